"""Video semantic events (spec: ``specs/video-events.openapi.json``).

https://docs.customer.io/integrations/data-in/semantic-events/video/

Every video event requires ``properties``. Positions, lengths, rates and counts are integers in
the spec: players report floats (seconds, ms, bps), so the mapping code converts them; these models
accept only whole numbers (``5.0`` becomes ``5``, ``5.5`` is refused).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, Field

from .base import Open, SemanticEvent

AdType = Literal["pre-roll", "mid-roll", "post-roll"]
AdLoadType = Literal["dynamic", "linear"]
SoundLevel = Annotated[int, Field(ge=0, le=100)]
OneOrManyIds = str | list[str]


class VideoPlaybackProperties(Open):
    """The state of the player (spec component ``playback_properties``)."""

    session_id: str | None = None
    ad_asset_id: OneOrManyIds | None = None
    ad_pod_id: OneOrManyIds | None = None
    ad_type: AdType | None = None
    position: int | None = None
    total_length: int | None = None
    bitrate: int | None = None
    framerate: int | None = None
    video_player: str | None = None
    sound: SoundLevel | None = None
    full_screen: bool | None = None
    ad_enabled: bool | None = None
    quality: str | None = None
    livestream: bool | None = None


class VideoPlaybackStartedProperties(VideoPlaybackProperties):
    """``playback_properties`` allOf ``content_assets_properties``."""

    content_asset_ids: list[str] | None = None
    content_pod_ids: list[str] | None = None


class VideoPlaybackInterruptedProperties(VideoPlaybackProperties):
    method: str | None = None


class VideoContentProperties(Open):
    """The content being watched (spec component ``content_properties``)."""

    session_id: str | None = None
    asset_id: str | None = None
    pod_id: str | None = None
    program: str | None = None
    title: str | None = None
    description: str | None = None
    season: str | None = None
    position: int | None = None
    total_length: int | None = None
    genre: str | None = None
    publisher: str | None = None
    channel: str | None = None
    full_episode: bool | None = None
    livestream: bool | None = None
    airdate: AwareDatetime | None = None
    bitrate: int | None = None
    framerate: int | None = None
    keywords: list[str] | None = None


class VideoAdProperties(Open):
    """The ad being played (spec component ``ad_properties``)."""

    session_id: str | None = None
    asset_id: str | None = None
    pod_id: str | None = None
    pod_position: int | None = None
    pod_length: int | None = None
    type: AdType | None = None
    title: str | None = None
    position: int | None = None
    total_length: int | None = None
    publisher: str | None = None
    load_type: AdLoadType | None = None
    content: dict[str, Any] | None = None
    quartile: int | None = None


class VideoQualityProperties(Open):
    """Playback quality (spec component ``quality_properties``)."""

    bitrate: int | None = None
    framerate: int | None = None
    startupTime: int | None = None
    droppedFrames: int | None = None


class VideoEvent(SemanticEvent):
    properties: Open
    context: Open | None = None  # the spec types nothing in it (not even traits)


class VideoPlaybackEvent(VideoEvent):
    properties: VideoPlaybackProperties


class VideoContentEvent(VideoEvent):
    properties: VideoContentProperties


class VideoAdEvent(VideoEvent):
    properties: VideoAdProperties


class VideoPlaybackStarted(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Started"
    properties: VideoPlaybackStartedProperties


class VideoPlaybackPaused(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Paused"


class VideoPlaybackInterrupted(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Interrupted"
    properties: VideoPlaybackInterruptedProperties


class VideoPlaybackBufferStarted(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Buffer Started"


class VideoPlaybackBufferCompleted(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Buffer Completed"


class VideoPlaybackSeekStarted(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Seek Started"


class VideoPlaybackSeekCompleted(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Seek Completed"


class VideoPlaybackResumed(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Resumed"


class VideoPlaybackCompleted(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Completed"


class VideoPlaybackExited(VideoPlaybackEvent):
    name: ClassVar[str] = "Video Playback Exited"


class VideoContentStarted(VideoContentEvent):
    name: ClassVar[str] = "Video Content Started"


class VideoContentPlaying(VideoContentEvent):
    name: ClassVar[str] = "Video Content Playing"


class VideoContentCompleted(VideoContentEvent):
    name: ClassVar[str] = "Video Content Completed"


class VideoAdStarted(VideoAdEvent):
    name: ClassVar[str] = "Video Ad Started"


class VideoAdPlaying(VideoAdEvent):
    name: ClassVar[str] = "Video Ad Playing"


class VideoAdCompleted(VideoAdEvent):
    name: ClassVar[str] = "Video Ad Completed"


class VideoQualityUpdated(VideoEvent):
    name: ClassVar[str] = "Video Quality Updated"
    properties: VideoQualityProperties


VIDEO_EVENTS: tuple[type[VideoEvent], ...] = (
    VideoPlaybackStarted,
    VideoPlaybackPaused,
    VideoPlaybackInterrupted,
    VideoPlaybackBufferStarted,
    VideoPlaybackBufferCompleted,
    VideoPlaybackSeekStarted,
    VideoPlaybackSeekCompleted,
    VideoPlaybackResumed,
    VideoPlaybackCompleted,
    VideoPlaybackExited,
    VideoContentStarted,
    VideoContentPlaying,
    VideoContentCompleted,
    VideoAdStarted,
    VideoAdPlaying,
    VideoAdCompleted,
    VideoQualityUpdated,
)
