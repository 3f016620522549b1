/* A video.js player double: `on(type, fn)` / `off(type, fn)` with the HTML5 media event names video.js
 * re-fires from its tech, and the getter methods a listener reads (currentTime(), duration(),
 * volume(), muted(), paused(), ended(), playbackRate(), isFullscreen(), videoWidth(),
 * videoHeight(), error()). https://docs.videojs.com/player */
window.VideoJsPlayerDouble = function (duration) {
  var handlers = {}, fired = [], st = {time: 0, paused: true, ended: false, volume: 0.7, muted: false, full: false, error: null};
  function trigger(type) {
    fired.push([type, null]);
    (handlers[type] || []).slice().forEach(function (h) { h({type: type, target: p}); });
  }
  var p = {
    fired: fired,
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    off: function (type, fn) { handlers[type] = (handlers[type] || []).filter(function (h) { return h !== fn; }); },
    listenerCount: function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; },
    currentTime: function () { return st.time; },
    duration: function () { return duration; },
    volume: function () { return st.volume; },
    muted: function () { return st.muted; },
    paused: function () { return st.paused; },
    ended: function () { return st.ended; },
    playbackRate: function () { return 1; },
    isFullscreen: function () { return st.full; },
    videoWidth: function () { return 640; },
    videoHeight: function () { return 360; },
    error: function () { return st.error; },

    play: function () { st.paused = false; trigger('play'); trigger('playing'); },
    time: function (t) { st.time = t; trigger('timeupdate'); },
    fullscreen: function (on) { st.full = on; trigger('fullscreenchange'); },
    fail: function () { st.error = {code: 2, message: 'network error'}; trigger('error'); },
    end: function () { st.time = duration; st.paused = true; st.ended = true; trigger('pause'); trigger('ended'); }
  };
  return p;
};
