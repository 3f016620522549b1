/*! cio-video-tracker adapter: Brightcove Player (video.js, with the IMA3 or SSAI ad plugin). Load after cio-video-tracker.js. */
/*
 * CioVideoTracker.track(videojs.getPlayer('myPlayerID'), {player: 'brightcove', ...}).
 * Content events are the HTML5 media events video.js re-fires; ads are videojs-contrib-ads' break
 * boundaries (adstart, adend) and Brightcove's universal ad events (ads-ad-started ...), which the
 * IMA3 and SSAI plugins both fire. `data` of loadstart carries player.mediainfo (the catalog's
 * video), of an ads-* event player.ads.ad ({type, index, id, duration}).
 * Mapping: shared/ciohooks/sources/video/brightcove.py and docs/sources/video.md.
 */
(function (T) {
  'use strict';
  var U = T.util;
  var ADS = ['contentended', 'adstart', 'ads-ad-started', 'ads-first-quartile', 'ads-midpoint', 'ads-third-quartile',
    'ads-ad-ended', 'ads-ad-skipped', 'ads-pause', 'ads-play', 'adend', 'adtimeout', 'adserror'];
  T.register('brightcove', function (p) {
    var base = U.html5(p);
    return U.extend(base, {
      events: ['loadstart'].concat(base.events, ADS),
      data: function (type, arg) {
        var info = type === 'loadstart' ? p.mediainfo : type.indexOf('ads-') === 0 ? p.ads && p.ads.ad : null;
        if (info) return type === 'loadstart' ? {mediainfo: U.clean(info, 0)} : {ad: U.clean(info, 0)};
        return base.data(type, arg);
      },
      // redispatch: a loadstart is a new source once a playback began (never an ad's)
      newMedia: function (t) { return t === 'loadstart' || t === 'emptied'; },
      flushAt: function (t) { return base.flushAt(t) || t === 'adend'; }
    });
  });
})(CioVideoTracker);
