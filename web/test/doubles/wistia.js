/* A Wistia Aurora player double: a `<wistia-player>`-like object with `addEventListener` /
 * `removeEventListener`, the properties a listener reads (currentTime, duration, volume, muted,
 * state, playbackRate) and the documented events, `detail` where the docs give one (conversion:
 * type, email, firstName, lastName). https://docs.wistia.com/docs/player-events */
window.WistiaPlayerDouble = function (duration) {
  var handlers = {}, fired = [];
  function trigger(type, detail) {
    fired.push(type);
    (handlers[type] || []).slice().forEach(function (h) { h({type: type, detail: detail || null}); });
  }
  var p = {
    fired: fired, currentTime: 0, duration: duration, volume: 1, muted: false, state: 'paused', playbackRate: 1,
    addEventListener: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    removeEventListener: function (type, fn) { handlers[type] = (handlers[type] || []).filter(function (h) { return h !== fn; }); },
    listenerCount: function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; },

    ready: function () { trigger('api-ready'); },
    play: function () { p.state = 'playing'; trigger('play'); },
    second: function (s) { p.currentTime = s; trigger('second-change'); },
    mute: function () { p.muted = true; trigger('mute-change', {isMuted: true}); trigger('volume-change', {volume: 1, isMuted: true}); },
    pause: function () { p.state = 'paused'; trigger('pause'); },
    seek: function (to) { p.currentTime = to; trigger('seeking'); trigger('seeked'); },
    convert: function () { trigger('conversion', {type: 'mid-roll-email', email: 'viewer@example.com', firstName: 'Lorem', lastName: 'Ipsum'}); },
    end: function () { p.currentTime = duration; p.state = 'ended'; trigger('ended'); }
  };
  return p;
};
