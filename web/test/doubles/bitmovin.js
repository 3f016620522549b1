/* A Bitmovin Player Web (v8) double: `on(event, fn)` / `off(event, fn)` with PlayerEvent names and
 * payloads (play/playing/paused {time}, seek {position, seekTarget}, timechanged {time}, ad events
 * {ad}, adquartile {quartile}, videoplaybackqualitychanged {sourceQuality, targetQuality}) and the
 * getters a listener reads. https://developer.bitmovin.com/playback/docs/player-web-api-reference */
window.BitmovinPlayerDouble = function (duration) {
  var handlers = {}, fired = [], st = {time: 0, paused: true, volume: 80, muted: false, video: {bitrate: 1500000, width: 960, height: 540, label: '540p'}};
  function trigger(type, data) {
    var event = {type: type, timestamp: 1764648000000}, k;
    for (k in data || {}) event[k] = data[k];
    fired.push([type, event]);
    (handlers[type] || []).slice().forEach(function (h) { h(event); });
  }
  var p = {
    fired: fired,
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    off: function (type, fn) { handlers[type] = (handlers[type] || []).filter(function (h) { return h !== fn; }); },
    listenerCount: function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; },
    getCurrentTime: function () { return st.time; }, getDuration: function () { return duration; },
    isPaused: function () { return st.paused; }, getVolume: function () { return st.volume; }, isMuted: function () { return st.muted; },
    getPlaybackSpeed: function () { return 1; }, getViewMode: function () { return 'inline'; },
    getPlaybackVideoData: function () { return st.video; }, isLive: function () { return false; },

    play: function () { st.paused = false; trigger('play', {time: st.time}); },
    playing: function () { trigger('playing', {time: st.time}); },   // after any pre-roll
    time: function (t) { st.time = t; trigger('timechanged', {time: t}); },
    pause: function () { st.paused = true; trigger('paused', {time: st.time}); },
    seek: function (to) { trigger('seek', {position: st.time, seekTarget: to}); st.time = to; trigger('seeked'); },
    quality: function () {
      var old = st.video;
      st.video = {bitrate: 5000000, width: 1920, height: 1080, label: '1080p'};
      trigger('videoplaybackqualitychanged', {sourceQuality: old, targetQuality: st.video});
    },
    adBreak: function (id, seconds) {
      var ad = {id: id, duration: seconds, isLinear: true};
      trigger('adbreakstarted', {adBreak: {id: 'break-' + id}}); trigger('adstarted', {ad: ad});
      trigger('adquartile', {quartile: 'firstQuartile'}); trigger('adquartile', {quartile: 'midpoint'});
      trigger('adquartile', {quartile: 'thirdQuartile'}); trigger('adfinished', {ad: ad}); trigger('adbreakfinished', {adBreak: {id: 'break-' + id}});
    },
    end: function () { st.time = duration; st.paused = true; trigger('paused', {time: duration}); trigger('playbackfinished'); }
  };
  return p;
};
