/* A Plyr double: `on(type, fn)` / `off(type, fn)`, the getters Plyr documents (currentTime,
 * duration, volume, muted, paused, ended, speed, quality, fullscreen.active) and its events, each
 * handler called with a CustomEvent-like object whose `detail.plyr` is the player
 * (`qualitychange` adds `detail.quality`). https://github.com/sampotts/plyr#events */
window.PlyrDouble = function (duration) {
  var handlers = {}, fired = [];
  function trigger(type, extra) {
    var detail = {plyr: p}, k;
    for (k in extra || {}) detail[k] = extra[k];
    fired.push([type, extra && 'quality' in extra ? {quality: extra.quality} : null]);
    (handlers[type] || []).slice().forEach(function (h) { h({type: type, detail: detail}); });
  }
  var p = {
    fired: fired, currentTime: 0, duration: duration, volume: 0.9, muted: false, paused: true, ended: false, speed: 1,
    quality: 576, fullscreen: {active: false},
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); return p; },
    off: function (type, fn) { handlers[type] = (handlers[type] || []).filter(function (h) { return h !== fn; }); return p; },
    listenerCount: function () { var n = 0, k; for (k in handlers) n += handlers[k].length; return n; },

    ready: function () { trigger('ready'); },
    play: function () { p.paused = false; trigger('play'); trigger('playing'); },
    time: function (t) { p.currentTime = t; trigger('timeupdate'); },
    setQuality: function (q) { p.quality = q; trigger('qualitychange', {quality: q}); },
    fullscreen_: function (on) { p.fullscreen.active = on; trigger(on ? 'enterfullscreen' : 'exitfullscreen'); },
    pause: function () { p.paused = true; trigger('pause'); },
    seek: function (t) { p.currentTime = t; trigger('seeking'); trigger('seeked'); },
    end: function () { p.currentTime = duration; p.paused = true; p.ended = true; trigger('pause'); trigger('ended'); }
  };
  return p;
};
