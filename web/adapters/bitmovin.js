/*! cio-video-tracker adapter: Bitmovin Player Web (v8). Load after cio-video-tracker.js. */
/*
 * CioVideoTracker.track(new bitmovin.player.Player(container, config), {player: 'bitmovin', ...}).
 * Events are Bitmovin's PlayerEvent names (player.on/off); `data` is the event object, and the
 * snapshot is read from the player's getters (getCurrentTime, getDuration, getVolume 0..100,
 * isMuted, isPaused, getViewMode, getPlaybackSpeed, getPlaybackVideoData, isLive).
 * Mapping: shared/ciohooks/sources/video/bitmovin.py and docs/sources/video.md.
 */
(function (T) {
  'use strict';
  var U = T.util, num = U.num, call = U.call;
  T.register('bitmovin', function (p) {
    return {
      events: ['sourceloaded', 'ready', 'play', 'playing', 'paused', 'seek', 'seeked', 'timechanged', 'stallstarted',
        'stallended', 'playbackfinished', 'videoplaybackqualitychanged', 'volumechanged', 'muted', 'unmuted',
        'viewmodechanged', 'playbackspeedchanged', 'error', 'warning', 'adbreakstarted', 'adstarted', 'adquartile',
        'adfinished', 'adskipped', 'adbreakfinished', 'aderror'],
      on: function (type, fn) { p.on(type, fn); return function () { p.off(type, fn); }; },
      data: function (type, e) { var c = U.clean(e, 0); return c === undefined ? null : c; },
      snap: function () {
        var v = call(p, 'getPlaybackVideoData'), s = {
          currentTime: num(call(p, 'getCurrentTime')), duration: num(call(p, 'getDuration')), paused: !!call(p, 'isPaused'),
          volume: num(call(p, 'getVolume')), muted: !!call(p, 'isMuted'), playbackRate: num(call(p, 'getPlaybackSpeed')),
          fullscreen: call(p, 'getViewMode') === 'fullscreen'
        };
        if (v) { s.bitrate = num(v.bitrate); s.height = num(v.height); s.width = num(v.width); s.quality = v.label || null; }
        if (call(p, 'isLive')) s.live = true;
        return s;
      },
      start: function (t) { return t === 'play'; },
      again: function (t) { return t === 'play' || t === 'seek'; },
      end: function (t) { return t === 'playbackfinished'; },
      newMedia: function (t) { return t === 'sourceloaded'; },
      flushAt: function (t) { return t === 'paused' || t === 'playbackfinished' || t === 'adbreakfinished'; }
    };
  });
})(CioVideoTracker);
