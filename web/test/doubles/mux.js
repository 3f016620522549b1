/* A Mux Data integration double. Mux's custom-integration guide has the page's integration call
 * `player.mux.emit(eventType, data)` (which forwards to mux-embed's `mux.emit(playerID, ...)`)
 * for every playback event; `told` records what would have reached Mux Data.
 * Events and data: https://www.mux.com/docs/guides/mux-data-playback-events and
 * https://www.mux.com/docs/guides/data-custom-javascript-integration (timeupdate
 * {player_playhead_time} in ms, renditionchange {video_source_bitrate, video_source_width,
 * video_source_height}, error {player_error_code, player_error_message}, ad events with
 * ad_asset_url / ad_tag_url / ad_id, videochange with the new video's metadata). */
window.MuxIntegrationDouble = function () {
  var told = [];
  var player = {mux: {emit: function (type, data) { told.push([type, data === undefined ? null : data]); }}, told: told};
  function emit(type, data) { player.mux.emit(type, data); }  // looked up at call time, as integrations do
  var ad = {ad_asset_url: 'https://ads.example.test/ad.mp4', ad_tag_url: 'https://ads.example.test/vast.xml', ad_id: 'ad-1'};
  player.drive = {
    ready: function () { emit('playerready'); },
    play: function () { emit('play'); emit('playing'); },
    time: function (ms) { emit('timeupdate', {player_playhead_time: ms}); },
    pause: function () { emit('pause'); },
    seek: function (ms) { emit('seeking'); emit('timeupdate', {player_playhead_time: ms}); emit('seeked'); },
    rebuffer: function () { emit('rebufferstart'); emit('rebufferend'); },
    rendition: function (bps, w, h) { emit('renditionchange', {video_source_bitrate: bps, video_source_width: w, video_source_height: h}); },
    midroll: function () {
      emit('pause');  // the content pauses for the ad break: not a viewer's pause
      emit('adbreakstart', ad); emit('adplay', ad); emit('adplaying', ad);
      emit('adfirstquartile', ad); emit('admidpoint', ad); emit('adthirdquartile', ad); emit('adended', ad);
      emit('adbreakend', ad);
      emit('play'); emit('playing');
    },
    ended: function () { emit('pause'); emit('ended'); },
    error: function (code, message) { emit('error', {player_error_code: code, player_error_message: message}); },
    videochange: function (meta) { emit('videochange', meta); }
  };
  return player;
};

/* The core library's shape: `mux.emit(playerID, eventType, data)` for several players on a page. */
window.MuxCoreDouble = function () {
  var told = [];
  return {told: told, emit: function (id, type, data) { told.push([id, type, data === undefined ? null : data]); }};
};
