/* A Brightcove Player double: a video.js player (`on`/`off`, the getter methods) with what the
 * Brightcove layer adds: `mediainfo` (the catalog's video, set before loadstart) and `ads.ad`
 * (the current ad: type, index, id, duration), and the events contrib-ads and the IMA3 plugin fire
 * (adstart ... ads-ad-started ... adend; redispatch: no content events during a break, `ended` once,
 * after any post-roll). https://player.support.brightcove.com/plugins/advertising-ima3-plugin.html,
 * github.com/videojs/videojs-contrib-ads docs/integrator (api.md, common-interface.md). */
window.BrightcovePlayerDouble = function (duration) {
  var handlers = {}, fired = [], st = {time: 0, paused: true, ended: false};
  function trigger(type) {
    fired.push([type, null]);
    (handlers[type] || []).slice().forEach(function (h) { h({type: type, target: p}); });
  }
  var p = {
    fired: fired, mediainfo: null, ads: {ad: null},
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    off: function (type, fn) { handlers[type] = (handlers[type] || []).filter(function (h) { return h !== fn; }); },
    listenerCount: function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; },
    currentTime: function () { return st.time; },
    duration: function () { return duration; },
    volume: function () { return 1; }, muted: function () { return false; },
    paused: function () { return st.paused; }, ended: function () { return st.ended; },
    playbackRate: function () { return 1; }, isFullscreen: function () { return false; },
    videoWidth: function () { return 1280; }, videoHeight: function () { return 720; },
    error: function () { return null; },

    load: function (info) { p.mediainfo = info; trigger('loadstart'); },
    play: function () { st.paused = false; trigger('play'); },
    playing: function () { trigger('playing'); },
    time: function (t) { st.time = t; trigger('timeupdate'); },
    pause: function () { st.paused = true; trigger('pause'); },
    ad: function (id, seconds, skipped) {   // one ad break of one ad
      trigger('adstart');
      p.ads.ad = {type: 'LINEAR', index: 0, id: id, duration: seconds};
      trigger('ads-ad-started'); trigger('ads-first-quartile');
      if (skipped) trigger('ads-ad-skipped'); else { trigger('ads-midpoint'); trigger('ads-third-quartile'); trigger('ads-ad-ended'); }
      p.ads.ad = null;
      trigger('adend');
    },
    contentEnded: function () { st.time = duration; trigger('contentended'); },
    end: function () { st.paused = true; st.ended = true; trigger('pause'); trigger('ended'); }
  };
  return p;
};
