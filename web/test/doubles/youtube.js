/* A YouTube IFrame API player double: `addEventListener(name, fn)` calling fn({target, data}), the
 * synchronous getters, and drivers for the documented events: onStateChange (data -1 unstarted,
 * 0 ended, 1 playing, 2 paused, 3 buffering, 5 cued), onPlaybackQualityChange (a quality string),
 * onPlaybackRateChange (a number), onError (2, 5, 100, 101, 150).
 * https://developers.google.com/youtube/iframe_api_reference#Events */
window.YouTubePlayerDouble = function (duration, iframe) {
  var handlers = {}, fired = [], st = {time: 0, state: -1, volume: 100, muted: false, rate: 1, quality: 'medium'};
  var p = {
    addEventListener: function (name, fn) { (handlers[name] = handlers[name] || []).push(fn); },
    removeEventListener: function (name, fn) { handlers[name] = (handlers[name] || []).filter(function (h) { return h !== fn; }); },
    listenerCount: function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; },
    getCurrentTime: function () { return st.time; },
    getDuration: function () { return st.state === -1 ? 0 : duration; },  // 0 until the metadata loaded
    getVolume: function () { return st.volume; },
    isMuted: function () { return st.muted; },
    getPlaybackRate: function () { return st.rate; },
    getPlaybackQuality: function () { return st.quality; },
    getPlayerState: function () { return st.state; },
    getIframe: function () { return iframe; },

    fired: fired,
    fire: function (name, data) { fired.push([name, data]); (handlers[name] || []).slice().forEach(function (h) { h({target: p, data: data}); }); },
    state: function (n) { st.state = n; p.fire('onStateChange', n); },
    advance: function (seconds) { st.time = seconds; },
    seekTo: function (seconds) {  // what seekTo(seconds, true) looks like while playing: buffering, then playing
      st.time = seconds; p.state(3); p.state(1);
    },
    quality: function (q) { st.quality = q; p.fire('onPlaybackQualityChange', q); },
    rate: function (r) { st.rate = r; p.fire('onPlaybackRateChange', r); },
    error: function (code) { p.fire('onError', code); }
  };
  return p;
};
