/*! cio-video-tracker adapter: Wistia (the Aurora <wistia-player> element). Load after cio-video-tracker.js. */
/*
 * CioVideoTracker.track(document.querySelector('wistia-player'), {player: 'wistia', ...}).
 * Events are the element's DOM events (https://docs.wistia.com/docs/player-events); the snapshot
 * is read from its properties (currentTime, duration, volume, muted, state, playbackRate).
 * `conversion` (a Turnstile) carries the viewer's email: only its `type` is recorded.
 * Mapping: shared/ciohooks/sources/video/wistia.py and docs/sources/video.md.
 */
(function (T) {
  'use strict';
  var U = T.util, num = U.num;
  T.register('wistia', function (el) {
    return {
      events: ['api-ready', 'play', 'pause', 'seeking', 'seeked', 'second-change', 'ended', 'volume-change', 'mute-change',
        'rate-change', 'enter-fullscreen', 'cancel-fullscreen', 'conversion'],
      on: function (type, fn) { el.addEventListener(type, fn); return function () { el.removeEventListener(type, fn); }; },
      data: function (type, e) {
        var d = e && e.detail;
        return type === 'conversion' ? {type: d && d.type || null} : null;  // never the email or names
      },
      snap: function () {
        var s = el.state;
        return {
          currentTime: num(el.currentTime), duration: num(el.duration), volume: num(el.volume), muted: !!el.muted,
          playbackRate: num(el.playbackRate), paused: s !== 'playing', ended: s === 'ended', fullscreen: U.fullscreenOf(el)
        };
      },
      start: function (t) { return t === 'play'; },
      again: function (t) { return t === 'play' || t === 'seeking'; },
      end: function (t) { return t === 'ended'; },
      newMedia: function () { return false; },
      flushAt: function (t) { return t === 'pause' || t === 'ended'; }
    };
  });
})(CioVideoTracker);
