/* A Vimeo player.js double: `on(event, callback)` / `off(event, callback)`, promise-returning getters,
 * and drivers that call back with the data player.js documents: {seconds, percent, duration} for
 * playback events, nothing for bufferstart/bufferend, {quality}, {volume, muted}, {fullscreen},
 * {name, message, method} for error, {id} for loaded.
 * Shapes: https://developer.vimeo.com/player/sdk/reference#events and vimeo/player.js types/events.ts */
window.VimeoPlayerDouble = function (videoId, duration) {
  var handlers = {}, fired = [], st = {seconds: 0, volume: 1, muted: false, quality: '540p', rate: 1};
  function fire(type, data) {
    fired.push([type, data === undefined ? null : JSON.parse(JSON.stringify(data))]);
    (handlers[type] || []).slice().forEach(function (h) { data === undefined ? h() : h(data); });
  }
  function timing() { return {seconds: st.seconds, percent: Math.round(st.seconds / duration * 1000) / 1000, duration: duration}; }
  var p = {
    fired: fired,
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    off: function (type, fn) { handlers[type] = (handlers[type] || []).filter(function (h) { return h !== fn; }); },
    listenerCount: function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; },
    getDuration: function () { return Promise.resolve(duration); },
    getCurrentTime: function () { return Promise.resolve(st.seconds); },
    getVolume: function () { return Promise.resolve(st.volume); },
    getMuted: function () { return Promise.resolve(st.muted); },
    getQuality: function () { return Promise.resolve(st.quality); },
    getPlaybackRate: function () { return Promise.resolve(st.rate); },

    loaded: function () { fire('loaded', {id: videoId}); },
    play: function () { fire('play', timing()); fire('playing', timing()); },
    timeupdate: function (seconds) { st.seconds = seconds; fire('timeupdate', timing()); },
    pause: function () { fire('pause', timing()); },
    seek: function (to) { st.seconds = to; fire('seeking', timing()); fire('seeked', timing()); },
    buffer: function () { fire('bufferstart'); fire('bufferend'); },
    quality: function (q) { st.quality = q; fire('qualitychange', {quality: q}); },
    volume: function (v, muted) { st.volume = v; st.muted = muted; fire('volumechange', {volume: v, muted: muted}); },
    fullscreen: function (on) { fire('fullscreenchange', {fullscreen: on}); },
    end: function () { st.seconds = duration; fire('pause', timing()); fire('ended', timing()); },
    error: function () { fire('error', {name: 'NotAllowedError', message: 'play() failed', method: 'play'}); }
  };
  return p;
};
