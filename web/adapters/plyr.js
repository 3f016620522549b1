/*! cio-video-tracker adapter: Plyr (https://github.com/sampotts/plyr). Load after cio-video-tracker.js. */
/*
 * CioVideoTracker.track(new Plyr('#player'), {player: 'plyr', ...}). Plyr re-fires the media events
 * under their HTML5 names (for its YouTube and Vimeo embeds too) plus its own (enterfullscreen,
 * exitfullscreen, qualitychange with event.detail.quality); the snapshot is read from Plyr's getters
 * (currentTime, duration, volume, muted, paused, ended, speed, quality, fullscreen.active).
 * Mapping: shared/ciohooks/sources/video/plyr.py and docs/sources/video.md.
 */
(function (T) {
  'use strict';
  var U = T.util, num = U.num;
  T.register('plyr', function (p) {
    return {
      events: ['ready', 'loadedmetadata', 'play', 'playing', 'pause', 'waiting', 'seeking', 'seeked', 'timeupdate', 'ended',
        'ratechange', 'volumechange', 'qualitychange', 'enterfullscreen', 'exitfullscreen', 'error', 'emptied'],
      on: function (type, fn) { p.on(type, fn); return function () { p.off(type, fn); }; },
      data: function (type, e) {
        var d = e && e.detail;
        return type === 'qualitychange' && d && d.quality != null ? {quality: U.clean(d.quality, 0)} : null;
      },
      snap: function () {
        var q = p.quality, s = {
          currentTime: num(p.currentTime), duration: num(p.duration) || null, paused: !!p.paused, ended: !!p.ended,
          volume: num(p.volume), muted: !!p.muted, playbackRate: num(p.speed), fullscreen: !!(p.fullscreen && p.fullscreen.active)
        };
        if (q != null) s.quality = typeof q === 'number' ? q + 'p' : String(q);  // Plyr names heights: 720
        return s;
      },
      start: function (t) { return t === 'play'; },
      again: function (t) { return t === 'play' || t === 'seeking'; },
      end: function (t) { return t === 'ended'; },
      newMedia: function (t) { return t === 'emptied'; },
      flushAt: function (t) { return t === 'pause' || t === 'ended'; }
    };
  });
})(CioVideoTracker);
