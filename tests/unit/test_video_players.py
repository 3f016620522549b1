"""The players whose tracker adapter is its own file (web/adapters/): Brightcove, Plyr, Shaka Player,
Bitmovin and Wistia, case by case beyond their pinned samples (tests/unit/test_video_translation.py).

Payload shapes are the players' documented ones, as credited in each module and in
events/samples/video/<player>/README.md.
"""

from __future__ import annotations

from tests.unit.test_video_translation import names, sample, session, translate


def props(bodies, event):
    return [b["properties"] for b in bodies if b["event"] == f"Video {event}"]


def test_brightcove_ads_carry_the_ad_id_and_length_and_the_break_type_post_roll_after_contentended():
    bodies, _ = translate("brightcove", sample("brightcove/ads-watch-to-end.json"))
    started = props(bodies, "Ad Started")
    assert [(p["type"], p["asset_id"]) for p in started] == [("pre-roll", "ad-7731"), ("mid-roll", "ad-7732"), ("post-roll", "ad-7733")]
    assert [p["total_length"] for p in props(bodies, "Ad Completed")] == [15, 10]  # the skipped 20 s ad is not completed
    content = props(bodies, "Content Started")[0]
    assert (content["asset_id"], content["title"], content["description"]) == ("ep-2041", "Episode 4: Smoke and Salt", "Cold-smoking fish on the Atlantic coast.")


def test_brightcove_an_ad_break_without_contentended_after_content_is_a_mid_roll():
    beacon = session([(0, "play"), (10, "playing"), (5000, "timeupdate", None, {"currentTime": 5}), (5100, "adstart"),
                      (5200, "ads-ad-started", {"ad": {"id": "m1", "duration": 6}}), (11200, "ads-ad-ended"), (11300, "adend")])
    bodies, _ = translate("brightcove", beacon)
    assert [(p["type"], p["asset_id"], p["total_length"]) for p in props(bodies, "Ad Started")] == [("mid-roll", "m1", 6)]


def test_plyr_quality_heights_are_labelled_like_renditions():
    start = {"currentTime": 0, "duration": 100, "volume": 1, "muted": False, "quality": "720p"}  # a change needs a quality before it
    beacon = session([(0, "play"), (10, "playing"), (2000, "qualitychange", {"quality": 1080}, {"quality": "1080p"}),
                      (3000, "qualitychange", {"quality": "hd"}, {"quality": "hd"})], player=start)
    bodies, _ = translate("plyr", beacon)
    assert [p["quality"] for p in props(bodies, "Quality Updated")] == ["1080p", "hd"]


def test_shaka_only_a_critical_error_interrupts_and_a_rebuffer_is_reported_with_its_end():
    bodies, ignored = translate("shaka", sample("shaka/fatal-error.json"))
    assert names(bodies)[-4:] == ["Playback Buffer Completed", "Content Playing", "Playback Interrupted", "Playback Exited"]
    assert [p["position"] for p in props(bodies, "Playback Buffer Started")] == [22]  # not the start-up buffering
    assert props(bodies, "Quality Updated")[0]["bitrate"] == 4500  # bandwidth 4,500,000 bits/s
    recoverable = session([(0, "play"), (10, "playing"), (500, "error", {"severity": 1, "category": 1, "code": 1001})])
    assert "Playback Interrupted" not in names(translate("shaka", recoverable)[0])


def test_bitmovin_ad_quartiles_in_either_spelling_and_the_seek_target():
    for first, mid, third in (("firstQuartile", "midpoint", "thirdQuartile"), ("first", "mid_point", "third")):
        beacon = session([(0, "play"), (5, "adbreakstarted"), (10, "adstarted", {"ad": {"id": "a1", "duration": 8}}),
                          (2000, "adquartile", {"quartile": first}), (4000, "adquartile", {"quartile": mid}),
                          (6000, "adquartile", {"quartile": third}), (8000, "adfinished"), (8010, "adbreakfinished")])
        bodies, _ = translate("bitmovin", beacon)
        assert [p["quartile"] for p in props(bodies, "Ad Playing")] == [1, 2, 3]
    bodies, _ = translate("bitmovin", sample("bitmovin/ads-watch-to-end.json"))
    assert [(p["position"], p["seek_position"]) for p in props(bodies, "Playback Seek Started")] == [(32, 60)]
    assert props(bodies, "Playback Started")[0]["sound"] == 80  # getVolume() is 0..100


def test_wistia_a_pause_right_before_the_end_is_not_paused_and_a_conversion_makes_no_event():
    beacon = session([(0, "play", None, {"state": "playing"}), (1000, "second-change", None, {"currentTime": 1}),
                      (1500, "conversion", {"type": "mid-roll-email"}), (99000, "pause", None, {"currentTime": 100}),
                      (99001, "ended", None, {"currentTime": 100})], final=True)
    bodies, ignored = translate("wistia", beacon)
    assert names(bodies) == ["Playback Started", "Content Started", "Content Completed", "Playback Completed"]
    assert ignored["conversion"] == 1
