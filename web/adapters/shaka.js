/*! cio-video-tracker adapter: Shaka Player (https://github.com/shaka-project/shaka-player). Load after cio-video-tracker.js. */
/*
 * CioVideoTracker.track(player, {player: 'shaka', ...}) with a shaka.Player attached to its <video>.
 * Playback is the media element's HTML5 events (player.getMediaElement()); buffering, renditions and
 * errors are Shaka's own: `buffering` ({buffering: true|false}), `adaptation`/`variantchanged` (the
 * active variant track is read: bandwidth, width, height, frameRate), `error` (detail: a
 * shaka.util.Error, severity 2 = CRITICAL). The element's waiting/resize/error are left to those.
 * Mapping: shared/ciohooks/sources/video/shaka.py and docs/sources/video.md.
 */
(function (T) {
  'use strict';
  var U = T.util, num = U.num, OWN = {buffering: 1, adaptation: 1, variantchanged: 1, error: 1, loading: 1};
  T.register('shaka', function (p) {
    var el = p.getMediaElement(), media = U.html5(el);
    function active() {
      var tracks = U.call(p, 'getVariantTracks') || [], i;
      for (i = 0; i < tracks.length; i++) if (tracks[i].active) return tracks[i];
      return null;
    }
    return U.extend(media, {
      events: ['loading', 'loadedmetadata', 'play', 'playing', 'pause', 'seeking', 'seeked', 'timeupdate', 'ended',
        'ratechange', 'volumechange', 'fullscreenchange', 'emptied', 'buffering', 'adaptation', 'variantchanged', 'error'],
      on: function (type, fn) {
        if (!OWN[type]) return media.on(type, fn);
        p.addEventListener(type, fn);
        return function () { p.removeEventListener(type, fn); };
      },
      data: function (type, e) {
        var d = e && e.detail, t;
        if (type === 'buffering') return {buffering: !!(e && e.buffering)};
        if (type === 'error') return d ? {severity: num(d.severity), category: num(d.category), code: num(d.code)} : null;
        if (type === 'adaptation' || type === 'variantchanged') {
          t = active();
          return t ? {bandwidth: num(t.bandwidth), width: num(t.width), height: num(t.height), frameRate: num(t.frameRate)} : null;
        }
        return null;
      },
      snap: function () {
        var s = media.snap(), t = active();
        if (t) { s.bitrate = num(t.bandwidth); s.height = num(t.height); s.width = num(t.width); }
        if (U.call(p, 'isLive')) s.live = true;
        return s;
      },
      newMedia: function (t) { return t === 'loading'; }
    });
  });
})(CioVideoTracker);
