/* A Shaka Player double: `getMediaElement()` (an element double firing the HTML5 media events with
 * the properties a listener reads), Shaka's own events through `addEventListener` /
 * `removeEventListener` (`buffering` {buffering}, `adaptation`, `error` {detail: shaka.util.Error:
 * severity, category, code}, `loading`), `getVariantTracks()` (active, bandwidth, width, height,
 * frameRate) and `isLive()`. github.com/shaka-project/shaka-player lib/player.js (@event). */
window.ShakaPlayerDouble = function (duration) {
  function emitter(target) {
    var handlers = {};
    target.addEventListener = function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); };
    target.removeEventListener = function (type, fn) { handlers[type] = (handlers[type] || []).filter(function (h) { return h !== fn; }); };
    target.count = function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; };
    return function (event) { (handlers[event.type] || []).slice().forEach(function (h) { h(event); }); };
  }
  var fired = [], tracks = [
    {id: 1, active: true, bandwidth: 1200000, width: 854, height: 480, frameRate: 30},
    {id: 2, active: false, bandwidth: 4500000, width: 1920, height: 1080, frameRate: 30}];
  var media = {currentTime: 0, duration: duration, paused: true, ended: false, volume: 1, muted: false, playbackRate: 1, videoWidth: 854, videoHeight: 480};
  var mediaEmit = emitter(media);
  var p = {fired: fired, getMediaElement: function () { return media; }, getVariantTracks: function () { return tracks; }, isLive: function () { return false; }};
  var playerEmit = emitter(p);
  function el(type) { fired.push([type, null]); mediaEmit({type: type, target: media}); }
  function own(event, recorded) { fired.push([event.type, recorded]); playerEmit(event); }
  p.listenerCount = function () { return media.count() + p.count(); };
  p.load = function () { own({type: 'loading'}, null); };
  p.play = function () { media.paused = false; el('play'); el('playing'); };
  p.time = function (t) { media.currentTime = t; el('timeupdate'); };
  p.buffering = function (on) { own({type: 'buffering', buffering: on}, {buffering: on}); };
  p.adapt = function () {
    tracks[0].active = false; tracks[1].active = true; media.videoWidth = 1920; media.videoHeight = 1080;
    own({type: 'adaptation'}, {bandwidth: 4500000, width: 1920, height: 1080, frameRate: 30});
  };
  p.fail = function (severity, code) { own({type: 'error', detail: {severity: severity, category: 3, code: code}}, {severity: severity, category: 3, code: code}); };
  return p;
};
