/* A JW Player double: the instance API a listener sees (`on`/`off`, getters) and drivers that fire
 * the callback objects JW Player documents, so the tracker's jwplayer adapter can be tested in a
 * real browser without JW's licensed library.
 * Shapes: https://docs.jwplayer.com/players/reference/playback-events (buffer, play, pause,
 * complete, error), https://docs.jwplayer.com/players/reference/seek-events-1 (seek, seeked, time),
 * https://docs.jwplayer.com/players/reference/quality-events (visualQuality),
 * https://docs.jwplayer.com/players/reference/advertising-events (adBreakStart, adImpression, adPlay,
 * adTime, adSkipped, adComplete, adBreakEnd). */
window.JwPlayerDouble = function (duration) {
  var handlers = {}, fired = [], tag = 'https://ads.example.test/vast.xml';
  var st = {position: 0, state: 'idle', volume: 80, mute: false, fullscreen: false, rate: 1, level: null};
  function fire(type, payload) {
    payload.type = type;
    fired.push([type, JSON.parse(JSON.stringify(payload))]);
    (handlers[type] || []).slice().forEach(function (h) { h(payload); });
  }
  var p = {
    fired: fired,
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); return p; },
    off: function (type, fn) { handlers[type] = (handlers[type] || []).filter(function (h) { return h !== fn; }); return p; },
    listenerCount: function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; },
    getPosition: function () { return st.position; },
    getDuration: function () { return duration; },
    getState: function () { return st.state; },
    getVolume: function () { return st.volume; },
    getMute: function () { return st.mute; },
    getFullscreen: function () { return st.fullscreen; },
    getPlaybackRate: function () { return st.rate; },
    getVisualQuality: function () { return st.level ? {mode: 'auto', level: st.level, reason: 'auto'} : undefined; },

    loadItem: function (title) { fire('playlistItem', {index: 0, item: {file: 'https://cdn.example.test/v.mp4', title: title, mediaid: 'abc123'}}); },
    play: function () {  // from idle the player buffers first; from paused it plays at once
      var old = st.state;
      if (old === 'idle' || old === 'complete') {
        st.state = 'buffering';
        fire('buffer', {newstate: 'buffering', oldstate: old, reason: 'loading'});
      }
      fire('play', {newstate: 'playing', oldstate: st.state, reason: 'playing', playReason: 'interaction', viewable: 1});
      st.state = 'playing';
    },
    time: function (position) { st.position = position; fire('time', {position: position, duration: duration, viewable: 1}); },
    pause: function () {
      st.state = 'paused';
      fire('pause', {newstate: 'paused', oldstate: 'playing', reason: 'paused', pauseReason: 'interaction', viewable: 1});
    },
    seek: function (to) {
      fire('seek', {position: st.position, offset: to, currentTime: st.position, duration: duration});
      st.position = to;
      fire('seeked', {});
    },
    quality: function (label, bitrate, width, height) {
      st.level = {bitrate: bitrate, index: 1, label: label, width: width, height: height};
      fire('visualQuality', {mode: 'auto', reason: 'auto', level: st.level});
    },
    ad: function (adposition, title, adDuration, skipped) {
      var c = {client: 'vast', creativetype: 'video/mp4', tag: tag};
      fire('adBreakStart', {adposition: adposition, client: 'vast', viewable: 1});
      fire('adImpression', {adposition: adposition, client: 'vast', adsystem: 'Example', adtitle: title, creativetype: 'video/mp4',
        linear: 'linear', tag: tag, vastversion: 3, mediafile: {file: 'https://ads.example.test/ad.mp4'}});
      fire('adPlay', {creativetype: 'video/mp4', newstate: 'playing', oldstate: 'buffering', tag: tag});
      fire('adTime', {client: 'vast', creativetype: 'video/mp4', duration: adDuration, position: adDuration / 2, sequence: 1, tag: tag});
      fire(skipped ? 'adSkipped' : 'adComplete', c);
      fire('adBreakEnd', {adposition: adposition, client: 'vast', viewable: 1});
    },
    complete: function () {
      st.position = duration;
      fire('time', {position: duration, duration: duration, viewable: 1});
      st.state = 'complete';
      fire('complete', {});
    },
    error: function (code, message) { st.state = 'error'; fire('error', {code: code, message: message, sourceError: null}); }
  };
  return p;
};
