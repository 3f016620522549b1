/*! cio-video-tracker: records a video player's native events and posts them to cio-hooks. No dependencies. */
/*
 * Usage (web/README.md has the details):
 *
 *   var handle = CioVideoTracker.track(videoElement, {
 *     endpoint: 'https://<video function url>', writeKey: 'site-public-key',
 *     anonymousId: 'a-1',              // the visitor (e.g. analytics.js's anonymousId)
 *     userId: 'u1', userHash: '9f2c..',  // optional: a logged-in viewer, with the HMAC of userId your
 *                                      // backend computed (userId counts only with a valid hash)
 *     video: {asset_id: 'a1', title: 'Intro'},   // content metadata, sent with every beacon
 *     player: 'html5'                  // html5 (also video.js) | jwplayer | vimeo | youtube | mux, or a
 *                                      // player whose adapter file the page loaded after this one
 *                                      // (web/adapters/*.js: brightcove, plyr, shaka, bitmovin)
 *   });
 *   handle.flush(); handle.stop();
 *
 * What is sent: POST <endpoint>/<player>?write_key=<writeKey>, body (text/plain: no CORS preflight):
 *   {session_id, anonymousId?, userId?, user_hash?, seq, sent_t, video, player_metadata?,
 *    events: [{t, type, data, player}], final?}
 * seq counts the session's beacons from 0; t and sent_t are ms since the session started; type is
 * the player's own event name, data its callback argument (a JSON-safe copy, or null), player a
 * snapshot of what a listener can read at that moment (volume on the player's own scale).
 * The translation into Customer.io's semantic events happens on the server, where it is tested and
 * can be replayed; this file only records, in order, and delivers.
 */
(function (root) {
  'use strict';

  // Events whose callback fires many times a second: kept at most once per `timeThrottle` ms. The
  // server needs positions, not every frame; a pause or seek still carries its own snapshot.
  var FREQUENT = {timeupdate: 1, time: 1, adTime: 1};
  var SKIP_KEYS = {target: 1, currentTarget: 1, srcElement: 1, view: 1};

  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
  function call(obj, name, arg) {
    try { return typeof obj[name] === 'function' ? obj[name](arg) : undefined; } catch (e) { return undefined; }
  }
  function now() { return root.performance && performance.now ? performance.now() : Date.now(); }

  // A JSON-safe copy of a callback argument: no functions, DOM nodes or windows, bounded in depth,
  // breadth and string length, so that one odd player object cannot blow up a beacon.
  function clean(v, depth) {
    var t = typeof v, out, n = 0, k, c;
    if (v === null || v === undefined) return null;
    if (t === 'number') return num(v);
    if (t === 'boolean') return v;
    if (t === 'string') return v.length > 500 ? v.slice(0, 500) : v;
    if (t !== 'object' || depth > 3 || v.nodeType || v.window === v) return undefined;
    if (Array.isArray(v)) {
      out = [];
      for (k = 0; k < v.length && k < 20; k++) { c = clean(v[k], depth + 1); out.push(c === undefined ? null : c); }
      return out;
    }
    out = {};
    for (k in v) {
      if (n >= 40) break;
      if (SKIP_KEYS[k]) continue;
      try { c = clean(v[k], depth + 1); } catch (e) { c = undefined; }
      if (c !== undefined) { out[k] = c; n++; }
    }
    return out;
  }

  function uuid() {
    var c = root.crypto, b, i, h = '';
    if (c && c.randomUUID) return c.randomUUID();  // secure contexts only
    b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b); else for (i = 0; i < 16; i++) b[i] = Math.random() * 256;
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1) + (i === 3 || i === 5 || i === 7 || i === 9 ? '-' : '');
    return h;
  }

  function fullscreenOf(el) {
    var f = root.document && (document.fullscreenElement || document.webkitFullscreenElement);
    return !!(f && el && (f === el || (f.contains && f.contains(el))));
  }

  // ---- adapters: how to listen to a player and what a listener can read from it --------------
  // Each: events (native names), on(type, fn) -> off function, data(type, arg) -> JSON-safe data,
  // snap() -> snapshot; start/again/end/newMedia(type, data) mark session boundaries (a playback
  // began / after the end, a new viewing begins / it ended / other content loaded), flushAt(type,
  // data) the moments worth sending at once.

  function html5(el) {
    var vjs = typeof el.on === 'function' && typeof el.currentTime === 'function';  // video.js
    var media = vjs ? null : el, wasFull = false;
    function read(name) { return vjs ? call(el, name) : el[name]; }
    return {
      events: ['loadedmetadata', 'durationchange', 'play', 'playing', 'pause', 'waiting', 'seeking', 'seeked',
        'timeupdate', 'ended', 'ratechange', 'volumechange', 'resize', 'error', 'emptied', 'fullscreenchange'],
      on: function (type, fn) {
        if (vjs) { el.on(type, fn); return function () { el.off(type, fn); }; }
        if (type === 'fullscreenchange') {
          // Fired at the document: keep it only when this element enters or leaves fullscreen.
          var g = function () { var f = fullscreenOf(media); if (f || wasFull) { wasFull = f; fn(); } };
          document.addEventListener(type, g);
          return function () { document.removeEventListener(type, g); };
        }
        el.addEventListener(type, fn);
        return function () { el.removeEventListener(type, fn); };
      },
      data: function (type) {
        var e = type === 'error' ? read('error') : null;
        return e ? {code: num(e.code), message: e.message || null} : null;
      },
      snap: function () {
        var d = read('duration'), s = {
          currentTime: num(read('currentTime')), duration: num(d), paused: !!read('paused'), ended: !!read('ended'),
          volume: num(read('volume')), muted: !!read('muted'), playbackRate: num(read('playbackRate')),
          fullscreen: vjs ? !!call(el, 'isFullscreen') : fullscreenOf(media)
        };
        var w = num(read('videoWidth'));
        if (w) { s.width = w; s.height = num(read('videoHeight')); }
        if (d === Infinity) s.live = true;
        return s;
      },
      start: function (t) { return t === 'play'; },
      again: function (t) { return t === 'play' || t === 'seeking'; },
      end: function (t) { return t === 'ended'; },
      newMedia: function (t) { return t === 'emptied'; },
      flushAt: function (t) { return t === 'pause' || t === 'ended'; }
    };
  }

  function jwplayer(p) {
    return {
      // https://docs.jwplayer.com/players/reference (playback, seek, quality, advertising events)
      events: ['playlistItem', 'firstFrame', 'play', 'pause', 'buffer', 'idle', 'complete', 'error', 'playAttemptFailed',
        'seek', 'seeked', 'time', 'mute', 'volume', 'fullscreen', 'playbackRateChanged', 'levelsChanged', 'visualQuality',
        'adBreakStart', 'adImpression', 'adPlay', 'adPause', 'adTime', 'adSkipped', 'adComplete', 'adError', 'adBreakEnd'],
      on: function (type, fn) { p.on(type, fn); return function () { p.off(type, fn); }; },
      data: function (type, arg) { var c = clean(arg, 0); return c === undefined ? null : c; },
      snap: function () {
        var d = num(call(p, 'getDuration')), vq = call(p, 'getVisualQuality'), lv = vq && vq.level;
        var s = {
          currentTime: num(call(p, 'getPosition')), duration: d !== null && d > 0 ? d : null, state: call(p, 'getState') || null,
          volume: num(call(p, 'getVolume')), muted: !!call(p, 'getMute'), fullscreen: !!call(p, 'getFullscreen'),
          playbackRate: num(call(p, 'getPlaybackRate'))
        };
        if (lv) { s.quality = lv.label || null; s.bitrate = num(lv.bitrate); s.width = num(lv.width); s.height = num(lv.height); }
        return s;
      },
      start: function (t) { return t === 'play'; },
      again: function (t) { return t === 'play' || t === 'buffer' || t === 'seek'; },
      end: function (t) { return t === 'complete'; },
      newMedia: function (t) { return t === 'playlistItem'; },
      flushAt: function (t) { return t === 'pause' || t === 'complete' || t === 'adBreakEnd'; }
    };
  }

  function vimeo(p) {
    // player.js getters return promises, so a listener can read synchronously only what the events
    // carried: the snapshot is that state, seeded once from the getters at attach time.
    var st = {currentTime: null, duration: null, volume: null, muted: null, fullscreen: false, quality: null, playbackRate: null};
    function seed(getter, key) {
      var r = call(p, getter);
      if (r && r.then) r.then(function (v) { if (st[key] === null) st[key] = v; }, function () {});
    }
    seed('getDuration', 'duration'); seed('getVolume', 'volume'); seed('getMuted', 'muted');
    seed('getQuality', 'quality'); seed('getPlaybackRate', 'playbackRate');
    return {
      // https://developer.vimeo.com/player/sdk/reference#events ; shapes: vimeo/player.js types/events.ts
      events: ['loaded', 'durationchange', 'play', 'playing', 'pause', 'ended', 'timeupdate', 'seeking', 'seeked',
        'bufferstart', 'bufferend', 'qualitychange', 'volumechange', 'playbackratechange', 'fullscreenchange', 'resize', 'error'],
      on: function (type, fn) { p.on(type, fn); return function () { p.off(type, fn); }; },
      data: function (type, a) {
        var c = clean(a, 0);
        if (c) {
          if ('seconds' in c) st.currentTime = num(c.seconds);
          if ('duration' in c) st.duration = num(c.duration);
          if ('volume' in c) st.volume = num(c.volume);
          if ('muted' in c) st.muted = c.muted;
          if ('fullscreen' in c) st.fullscreen = c.fullscreen;
          if ('quality' in c) st.quality = c.quality;
          if ('playbackRate' in c) st.playbackRate = num(c.playbackRate);
        }
        return c === undefined ? null : c;
      },
      snap: function () { var s = {}, k; for (k in st) s[k] = st[k]; return s; },
      start: function (t) { return t === 'play'; },
      again: function (t) { return t === 'play' || t === 'seeking'; },
      end: function (t) { return t === 'ended'; },
      newMedia: function (t) { return t === 'loaded'; },
      flushAt: function (t) { return t === 'pause' || t === 'ended'; }
    };
  }

  function youtube(p) {
    // https://developers.google.com/youtube/iframe_api_reference#Events
    // onStateChange data: -1 unstarted, 0 ended, 1 playing, 2 paused, 3 buffering, 5 cued.
    function state(t, d, n) { return t === 'onStateChange' && d === n; }
    return {
      events: ['onStateChange', 'onPlaybackQualityChange', 'onPlaybackRateChange', 'onError', 'onAutoplayBlocked'],
      on: function (type, fn) {
        p.addEventListener(type, fn);
        return function () { try { p.removeEventListener(type, fn); } catch (e) { /* player already destroyed */ } };
      },
      data: function (type, e) { var c = clean(e && e.data, 0); return c === undefined ? null : c; },
      snap: function () {
        return {
          currentTime: num(call(p, 'getCurrentTime')), duration: num(call(p, 'getDuration')) || null,
          state: num(call(p, 'getPlayerState')), volume: num(call(p, 'getVolume')), muted: !!call(p, 'isMuted'),
          playbackRate: num(call(p, 'getPlaybackRate')), quality: call(p, 'getPlaybackQuality') || null,
          fullscreen: fullscreenOf(call(p, 'getIframe'))
        };
      },
      // The IFrame API has no time or seek event: while playing, the tracker records a `tick`
      // (snapshot only) every second, so the server can count playhead time and see jumps.
      ticks: function (t, d) { return t === 'onStateChange' ? d === 1 : undefined; },
      start: function (t, d) { return state(t, d, 1); },
      again: function (t, d) { return state(t, d, 1) || state(t, d, 3); },
      end: function (t, d) { return state(t, d, 0); },
      newMedia: function (t, d) { return state(t, d, -1); },
      flushAt: function (t, d) { return state(t, d, 2) || state(t, d, 0); }
    };
  }

  function mux(target, opts) {
    // Mux Data integrations report playback through an `emit` function: `player.mux.emit(type, data)`
    // (Mux's custom-integration guide) or the core `mux.emit(playerId, type, data)`. Wrapping it
    // records exactly what Mux Data is told. https://www.mux.com/docs/guides/mux-data-playback-events
    var holder = target.mux && typeof target.mux.emit === 'function' ? target.mux : target;
    var core = holder === target, id = opts.muxPlayerId, st = {currentTime: null, bitrate: null, width: null, height: null};
    var media = typeof target.currentTime === 'number' || typeof target.currentTime === 'function' ? html5(target) : null;
    var wanted = {};
    var self = {
      events: ['playerready', 'viewinit', 'videochange', 'play', 'playing', 'pause', 'timeupdate', 'seeking', 'seeked',
        'rebufferstart', 'rebufferend', 'error', 'ended', 'renditionchange', 'adrequest', 'adresponse', 'adbreakstart',
        'adplay', 'adplaying', 'adpause', 'adfirstquartile', 'admidpoint', 'adthirdquartile', 'adended', 'adbreakend',
        'aderror', 'viewend'],
      on: function (type, fn) {
        wanted[type] = fn;
        if (self.events[0] !== type) return function () {};
        if (typeof holder.emit !== 'function') throw new TypeError('CioVideoTracker: no Mux emit function to wrap');
        if (core && id == null) throw new TypeError('CioVideoTracker: the core mux object needs options.muxPlayerId');
        var orig = holder.emit;
        var wrapped = function () {
          var a = arguments, i = core ? 1 : 0;
          try { if ((!core || a[0] === id) && wanted[a[i]]) wanted[a[i]](a[i + 1]); } catch (e) { /* never break Mux */ }
          return orig.apply(this, a);
        };
        holder.emit = wrapped;
        return function () { if (holder.emit === wrapped) holder.emit = orig; };
      },
      data: function (type, a) {
        var c = clean(a, 0);
        if (c) {
          if (num(c.player_playhead_time) !== null) st.currentTime = c.player_playhead_time / 1000;  // ms
          if ('video_source_bitrate' in c) st.bitrate = num(c.video_source_bitrate);
          if ('video_source_width' in c) { st.width = num(c.video_source_width); st.height = num(c.video_source_height); }
        }
        return c === undefined ? null : c;
      },
      snap: function () {
        var s = media ? media.snap() : {currentTime: st.currentTime}, k;
        for (k in st) if (k !== 'currentTime' && st[k] !== null) s[k] = st[k];
        return s;
      },
      start: function (t) { return t === 'play'; },
      again: function (t) { return t === 'play' || t === 'seeking'; },
      end: function (t) { return t === 'ended'; },
      newMedia: function (t) { return t === 'videochange'; },
      flushAt: function (t) { return t === 'pause' || t === 'ended' || t === 'viewend' || t === 'adbreakend'; }
    };
    return self;
  }

  var ADAPTERS = {html5: html5, videojs: html5, jwplayer: jwplayer, vimeo: vimeo, youtube: youtube, mux: mux};

  // A player whose adapter lives in its own file (web/adapters/<route>.js) adds it here, so a page
  // loads only what its player needs. `extend` makes an adapter from another one, overriding parts.
  function register(route, factory) { ADAPTERS[route] = factory; }
  function extend(base, over) { var out = {}, k; for (k in base) out[k] = base[k]; for (k in over) out[k] = over[k]; return out; }

  // ---- the tracker ---------------------------------------------------------------------------

  function track(target, options) {
    var o = options || {}, route = o.player || 'html5';
    if (!target) throw new TypeError('CioVideoTracker.track: no player or element');
    if (!ADAPTERS.hasOwnProperty(route)) throw new TypeError('CioVideoTracker.track: player must be one of ' + Object.keys(ADAPTERS).join(', ') + ' (or load its adapter file first)');
    if (!o.endpoint || !o.writeKey) throw new TypeError('CioVideoTracker.track: endpoint and writeKey are required');
    if (!o.userId && !o.anonymousId) throw new TypeError('CioVideoTracker.track: userId or anonymousId is required');

    var adapter = ADAPTERS[route](target, o);
    var snapshot = typeof o.snapshot === 'function' ? o.snapshot : adapter.snap;
    // The write key rides in the query string: sendBeacon cannot set a header, and a header would
    // make fetch preflight. It is public by nature (it ships in this page).
    var url = String(o.endpoint).replace(/\/+$/, '') + '/' + route + '?write_key=' + encodeURIComponent(o.writeKey);
    // Both ids go out: the server takes userId only when user_hash proves the site's backend vouched
    // for it, and falls back to anonymousId otherwise (docs/sources/video.md, identity).
    var who = {};
    if (o.anonymousId) who.anonymousId = String(o.anonymousId);
    if (o.userId) { who.userId = String(o.userId); if (o.userHash) who.user_hash = String(o.userHash); }
    var playerMetadata = o.playerMetadata ? clean(o.playerMetadata, 0) : null;
    var flushInterval = o.flushInterval || 10000, timeThrottle = o.timeThrottle == null ? 1000 : o.timeThrottle;
    var maxEvents = o.maxEvents || 50, maxBytes = o.maxBytes || 60000, transport = o.transport || 'auto';
    var maxAttempts = o.maxAttempts || 10;
    var video = clean(o.video || {}, 0) || {};
    var session, outboxes = [], offs = [], timer, tick, soon, stopped = false;

    function newSession() {
      session = {id: uuid(), t0: now(), seq: -1, events: [], outbox: [], started: false, ended: false, lastFrequent: {}, any: false};
    }

    function rotate(meta) {
      // Ends the current session with a final beacon and opens a new one, if it recorded anything.
      var next = meta ? clean(meta, 0) || {} : video;
      if (session.started || session.events.length || session.any) {
        seal(session, true);  // with the metadata it played under
        newSession();
        deliver(false);
      }
      video = next;
    }

    function record(type, arg) {
      if (stopped) return;
      var data = adapter.data(type, arg), s, t, on;
      // After the end, playing or seeking again is a new viewing; so is new media once one played.
      if ((session.ended && adapter.again(type, data)) || (session.started && adapter.newMedia(type, data))) rotate();
      s = session;
      t = Math.round(now() - s.t0);
      if (FREQUENT[type] && timeThrottle) {
        if (s.lastFrequent[type] != null && t - s.lastFrequent[type] < timeThrottle) return;
        s.lastFrequent[type] = t;
      }
      if (adapter.start(type, data)) s.started = true;
      if (adapter.end(type, data)) s.ended = true;
      s.events.push({t: t, type: type, data: data, player: safeSnap()});
      on = adapter.ticks && adapter.ticks(type, data);
      if (on === true && !tick) tick = setInterval(function () { record('tick', null); }, o.tickInterval || 1000);
      if (on === false && tick) { clearInterval(tick); tick = null; }
      if (s.events.length >= maxEvents) flush();
      // pause and end are natural send points; a timeout coalesces HTML5's pause + ended pair.
      else if (adapter.flushAt(type, data) && !soon) soon = setTimeout(function () { soon = null; flush(); }, 0);
    }

    function safeSnap() {
      try { return clean(snapshot(), 0) || {}; } catch (e) { return {}; }
    }

    // Buffered events -> numbered beacons in the session's outbox. A beacon's body (and so its seq)
    // is built once: a retry resends the very same bytes, which the server dedupes by (session_id, seq).
    function seal(s, final) {
      var chunk, seq, body;
      do {
        chunk = s.events.splice(0, maxEvents);
        seq = s.seq + 1;
        body = build(s, seq, chunk, final && !s.events.length);
        while (body.length > maxBytes && chunk.length > 1) {  // over what keepalive/sendBeacon carry: halve
          s.events = chunk.splice(Math.ceil(chunk.length / 2)).concat(s.events);
          body = build(s, seq, chunk, false);
        }
        s.seq = seq;
        s.outbox.push({body: body, busy: false, tries: 0});
        s.any = true;
      } while (s.events.length);
      if (outboxes.indexOf(s) < 0) outboxes.push(s);
    }

    function build(s, seq, events, final) {
      var b = {session_id: s.id}, k;
      for (k in who) b[k] = who[k];
      b.seq = seq;
      b.sent_t = Math.round(now() - s.t0);  // with t, lets the server place events in time
      b.video = video;
      if (playerMetadata) b.player_metadata = playerMetadata;
      b.events = events;
      if (final) b.final = true;
      return JSON.stringify(b);
    }

    function post(body, beacon) {
      var nav = root.navigator;
      if ((transport === 'beacon' || (beacon && transport !== 'fetch')) && nav && nav.sendBeacon) {
        // A text/plain string body is a CORS-safelisted request: no preflight, no response needed.
        if (nav.sendBeacon(url, body)) return Promise.resolve(true);
      }
      if (typeof fetch !== 'function') return Promise.resolve(false);
      return fetch(url, {method: 'POST', body: body, keepalive: body.length < 65000, credentials: 'omit', mode: 'cors'})
        .then(function (r) {
          // 2xx: delivered. A 4xx other than 408/429 will not get better by resending: give it up.
          return r.ok || (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429);
        }, function () { return false; });
    }

    // Sends every beacon not yet delivered, of this and earlier sessions, oldest first. A failed one
    // stays in its outbox and goes again at the next flush, with the same seq.
    function deliver(beacon) {
      var sends = [];
      outboxes.forEach(function (s) {
        s.outbox.forEach(function (item) {
          if (item.busy) return;
          item.busy = true;
          item.tries++;
          sends.push(post(item.body, beacon).then(function (done) {
            item.busy = false;
            // Given up after maxAttempts: an endpoint whose answer the page can never read (an Origin
            // it does not allow) must not be hammered at every flush for the life of the page.
            if (done || item.tries >= maxAttempts) s.outbox.splice(s.outbox.indexOf(item), 1);
          }));
        });
        if (s.outbox.length > 100) s.outbox.splice(0, s.outbox.length - 100);  // bound memory while offline
      });
      return Promise.all(sends).then(function () {
        outboxes = outboxes.filter(function (s) { return s.outbox.length || s === session; });
      });
    }

    function flush() {
      if (stopped) return Promise.resolve();
      if (session.events.length) seal(session, false);
      return deliver(false);
    }

    function finish(beacon) {
      // The end of this session as far as the page knows: a final beacon, then a fresh session.
      if (session.events.length || session.any || session.started) seal(session, true);
      newSession();
      return deliver(beacon);
    }

    function onVisibility() {
      if (document.visibilityState === 'hidden' && !stopped) { if (session.events.length) seal(session, false); deliver(true); }
    }
    function onPageHide() { if (!stopped) finish(true); }

    newSession();
    adapter.events.forEach(function (type) {
      offs.push(adapter.on(type, function (arg) { record(type, arg); }));
    });
    timer = setInterval(flush, flushInterval);
    if (root.document) document.addEventListener('visibilitychange', onVisibility);
    if (root.addEventListener) root.addEventListener('pagehide', onPageHide);

    return {
      /** Send what is buffered now; resolves when the sends settled. */
      flush: flush,
      /** Ends the session with a final beacon and detaches from the player. */
      stop: function () {
        if (stopped) return Promise.resolve();
        var p = finish(false);
        stopped = true;
        offs.forEach(function (off) { off(); });
        clearInterval(timer); clearInterval(tick); clearTimeout(soon);
        if (root.document) document.removeEventListener('visibilitychange', onVisibility);
        if (root.removeEventListener) root.removeEventListener('pagehide', onPageHide);
        return p;
      },
      /** New content in the same player: ends the current session and tags the next with `meta`. */
      setVideo: function (meta) { rotate(meta || {}); },
      /** The current session's id. */
      sessionId: function () { return session.id; }
    };
  }

  root.CioVideoTracker = {
    track: track, register: register, version: '1.1.0',
    // What adapter files build on (web/adapters/*.js).
    util: {num: num, call: call, clean: clean, extend: extend, fullscreenOf: fullscreenOf, html5: html5}
  };
})(typeof window !== 'undefined' ? window : this);
