"""Timeline geometry (plain Python, no Qt): frames ↔ pixels, zoom and scroll, track rows, hit-testing.

Coordinates are widget pixels: x grows to the right from the widget's left edge, y downwards. The track
header column occupies x < HEADER_WIDTH; timeline frame f is drawn at
`HEADER_WIDTH + f * pixels_per_frame - scroll_px`. Frames here may be fractional (a pointer between two
frames); callers round when they make an edit.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from app.model.audio_commands import MAX_GAIN_DB, MIN_GAIN_DB

if TYPE_CHECKING:
    from app.ui.timeline.content import AudioSpan

HEADER_WIDTH = 72
RULER_HEIGHT = 26
ACTS_HEIGHT = 72
BEATS_HEIGHT = 28
AUDIO_HEIGHT = 48

#: Zoom limits in pixels per frame: from ~8 minutes per 100 px (at 24 fps) to frame-accurate editing.
MIN_PIXELS_PER_FRAME = 0.002
MAX_PIXELS_PER_FRAME = 48.0
#: Room left after the last frame at "fit", and how far one may scroll past the end.
TAIL_PX = 32
#: Pointer zones: trim handle inside an act's right end, roll zone either side of a cut, beat pick radius.
EDGE_PX = 8
CUT_PX = 4
BEAT_PX = 4
#: The smallest spacing of labelled ruler ticks, in pixels (room for "00:00:00:00").
RULER_LABEL_PX = 96
RULER_MINOR_PX = 8
#: Audio clips are drawn this far inside their row, top and bottom.
CLIP_MARGIN_PX = 3
#: Side of the square fade handles at a clip's top corners; the volume line's pick distance.
FADE_HANDLE_PX = 7
VOLUME_PICK_PX = 3
#: Space between a clip's fade handles and its name.
LABEL_GAP_PX = 2
#: The mute toggle in an audio track's header: side, and gap to the header's right edge.
MUTE_BOX_PX = 14
MUTE_BOX_MARGIN_PX = 6
#: The clip volume line's dB scale (AudioClip.gain_db): 0 dB sits at UNITY_GAIN_AT of the clip's height
#: from its bottom; above it +24 dB is spread evenly to the top, below it -60 dB follows a fader law (the
#: square root of the attenuation), so the levels used most (-20..0 dB) get most of the room.
UNITY_GAIN_AT = 0.7

#: A point (x, y) and a rectangle (left, top, width, height), in pixels.
Point = tuple[float, float]
Rect = tuple[float, float, float, float]


class RowKind(Enum):
    ruler = "ruler"
    acts = "acts"
    beats = "beats"
    audio = "audio"


@dataclass(frozen=True)
class Row:
    """One horizontal band of the timeline; `track` is the audio track number (0 for the others)."""

    kind: RowKind
    top: int
    height: int
    track: int = 0

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def contains(self, y: float) -> bool:
        return self.top <= y < self.bottom


class HitKind(Enum):
    none = "none"
    header = "header"
    ruler = "ruler"
    act = "act"  # an act's body: index = act index
    act_edge = "act_edge"  # an act's right end (ripple trim): index = act index
    cut = "cut"  # the cut after act `index` (roll edit): index = cut index
    beats = "beats"  # the beat track away from any beat
    beat = "beat"  # index = position in the beat list given to hit_test
    audio = "audio"  # an audio track away from any clip: index = audio track
    audio_header = "audio_header"  # an audio track's header outside its mute box: index = audio track
    mute = "mute"  # the mute box in an audio track's header: index = audio track
    audio_clip = "audio_clip"  # an audio clip's body: index = position in the spans given to hit_test
    fade_in = "fade_in"  # a clip's fade-in handle: index as audio_clip
    fade_out = "fade_out"  # a clip's fade-out handle: index as audio_clip
    volume = "volume"  # a clip's volume line: index as audio_clip


@dataclass(frozen=True)
class Hit:
    kind: HitKind
    frame: float  # the timeline position under the pointer (fractional)
    index: int = -1


def track_rows(audio_tracks: int) -> list[Row]:
    """Ruler, acts track, beat track, then one row per audio track (at least one), top to bottom."""
    rows = [Row(RowKind.ruler, 0, RULER_HEIGHT), Row(RowKind.acts, RULER_HEIGHT, ACTS_HEIGHT)]
    top = RULER_HEIGHT + ACTS_HEIGHT
    rows.append(Row(RowKind.beats, top, BEATS_HEIGHT))
    top += BEATS_HEIGHT
    for track in range(max(1, audio_tracks)):
        rows.append(Row(RowKind.audio, top, AUDIO_HEIGHT, track))
        top += AUDIO_HEIGHT
    return rows


class TimelineGeometry:
    """Zoom (pixels per frame), horizontal scroll (pixels) and row layout of a timeline of `width` pixels."""

    def __init__(self, width: int = 800, audio_tracks: int = 1) -> None:
        self.width = width
        self.pixels_per_frame = 1.0
        self.scroll_px = 0.0
        self.rows = track_rows(audio_tracks)

    # -- layout ----------------------------------------------------------------------------------------------

    def set_audio_tracks(self, count: int) -> None:
        self.rows = track_rows(count)

    @property
    def tracks_height(self) -> int:
        return self.rows[-1].bottom

    @property
    def content_width(self) -> int:
        """Pixels available for the timeline itself (right of the track headers)."""
        return max(1, self.width - HEADER_WIDTH)

    def row(self, kind: RowKind) -> Row:
        """The first row of that kind (the audio rows: use `rows`)."""
        return next(row for row in self.rows if row.kind is kind)

    def row_at(self, y: float) -> Row | None:
        return next((row for row in self.rows if row.contains(y)), None)

    # -- frames ↔ pixels -------------------------------------------------------------------------------------

    def x_of(self, frame: float) -> float:
        return HEADER_WIDTH + frame * self.pixels_per_frame - self.scroll_px

    def frame_at(self, x: float) -> float:
        return (x - HEADER_WIDTH + self.scroll_px) / self.pixels_per_frame

    def frames_in(self, pixels: float) -> float:
        """How many frames `pixels` pixels span at the current zoom (for snap tolerances)."""
        return pixels / self.pixels_per_frame

    def visible_frames(self, total_frames: int) -> tuple[int, int]:
        """Frames [first, end) of the project at least partly on screen (clamped to 0..total_frames)."""
        first = max(0, int(self.frame_at(HEADER_WIDTH)))
        end = int(self.frame_at(self.width)) + 1
        return min(first, total_frames), max(0, min(end, total_frames))

    # -- zoom and scroll -------------------------------------------------------------------------------------

    def max_scroll(self, total_frames: int) -> float:
        return max(0.0, total_frames * self.pixels_per_frame + TAIL_PX - self.content_width)

    def set_scroll(self, scroll_px: float, total_frames: int) -> bool:
        """Scroll to `scroll_px` (clamped to the timeline); returns whether anything moved."""
        clamped = min(max(0.0, scroll_px), self.max_scroll(total_frames))
        moved = clamped != self.scroll_px
        self.scroll_px = clamped
        return moved

    def zoom_at(self, x: float, factor: float, total_frames: int) -> bool:
        """Multiply the zoom by `factor`, keeping the frame under pixel `x` where it is (scroll allowing)."""
        anchor = self.frame_at(x)
        old = self.pixels_per_frame, self.scroll_px
        self.pixels_per_frame = _clamp_zoom(self.pixels_per_frame * factor)
        self.scroll_px = anchor * self.pixels_per_frame - (x - HEADER_WIDTH)
        self.set_scroll(self.scroll_px, total_frames)
        return (self.pixels_per_frame, self.scroll_px) != old

    def fit(self, total_frames: int) -> bool:
        """Zoom so the whole project fits the width (with TAIL_PX to spare) and scroll to the start."""
        old = self.pixels_per_frame, self.scroll_px
        self.pixels_per_frame = _clamp_zoom((self.content_width - TAIL_PX) / max(1, total_frames))
        self.scroll_px = 0.0
        return (self.pixels_per_frame, self.scroll_px) != old

    def ensure_visible(self, frame: int, total_frames: int) -> bool:
        """Page-scroll so `frame` is on screen (a tenth of the width from the left) when it is not."""
        x = self.x_of(frame)
        if HEADER_WIDTH <= x <= self.width - 1:
            return False
        return self.set_scroll(frame * self.pixels_per_frame - self.content_width / 10, total_frames)


def _clamp_zoom(pixels_per_frame: float) -> float:
    return min(max(pixels_per_frame, MIN_PIXELS_PER_FRAME), MAX_PIXELS_PER_FRAME)


def ruler_steps(nominal_fps: int, pixels_per_frame: float) -> tuple[int, int]:
    """(major, minor) tick spacing in frames: majors far enough apart for a label, minors >= 8 px apart."""
    # Sub-second steps divide the second, so labelled ticks land on whole seconds when they can.
    steps = [s for s in range(1, nominal_fps) if nominal_fps % s == 0]
    steps += [nominal_fps * s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)]
    major = next((s for s in steps if s * pixels_per_frame >= RULER_LABEL_PX), steps[-1])
    minors = [s for s in steps if s < major and major % s == 0 and s * pixels_per_frame >= RULER_MINOR_PX]
    return major, (minors[0] if minors else major)


def hit_test(
    geometry: TimelineGeometry,
    starts: Sequence[int],
    beat_frames: Sequence[float],
    x: float,
    y: float,
    audio: Sequence[AudioSpan] = (),
) -> Hit:
    """What lies under pixel (x, y).

    `starts` are the act start frames followed by the end of the last act (len = acts + 1);
    `beat_frames` the beat positions in (fractional) frames, sorted; `audio` the audio clips as drawn.
    """
    frame = geometry.frame_at(x)
    row = geometry.row_at(y)
    if row is None:
        return Hit(HitKind.none, frame)
    if x < HEADER_WIDTH:
        if row.kind is not RowKind.audio:
            return Hit(HitKind.header, frame, row.track)
        left, top, side = mute_box(row)
        inside = left <= x < left + side and top <= y < top + side
        return Hit(HitKind.mute if inside else HitKind.audio_header, frame, row.track)
    if row.kind is RowKind.ruler:
        return Hit(HitKind.ruler, frame)
    if row.kind is RowKind.beats:
        return _hit_beat(geometry, beat_frames, x, frame)
    if row.kind is RowKind.audio:
        return _hit_audio(geometry, row, audio, x, y, frame)
    return _hit_act(geometry, starts, x, frame)


# -- audio tracks --------------------------------------------------------------------------------------------


def clip_band(row: Row) -> tuple[int, int]:
    """(top, height) in pixels of the audio clips drawn in `row`."""
    return row.top + CLIP_MARGIN_PX, row.height - 2 * CLIP_MARGIN_PX


def mute_box(row: Row) -> tuple[int, int, int]:
    """(left, top, side) in pixels of the mute toggle in the header of audio row `row`."""
    return (
        HEADER_WIDTH - MUTE_BOX_MARGIN_PX - MUTE_BOX_PX,
        row.top + (row.height - MUTE_BOX_PX) // 2,
        MUTE_BOX_PX,
    )


def gain_height(gain_db: float) -> float:
    """Where the volume line of a clip at `gain_db` sits: 0 (the clip's bottom, -60 dB) .. 1 (top, +24 dB)."""
    gain = min(max(gain_db, MIN_GAIN_DB), MAX_GAIN_DB)
    if gain >= 0:
        return UNITY_GAIN_AT + (1 - UNITY_GAIN_AT) * gain / MAX_GAIN_DB
    return UNITY_GAIN_AT * (1 - math.sqrt(gain / MIN_GAIN_DB))


def gain_at_height(height: float) -> float:
    """The inverse of gain_height: dB for a height 0..1 (clamped) of the clip."""
    h = min(max(height, 0.0), 1.0)
    if h >= UNITY_GAIN_AT:
        return MAX_GAIN_DB * (h - UNITY_GAIN_AT) / (1 - UNITY_GAIN_AT)
    return MIN_GAIN_DB * (1 - h / UNITY_GAIN_AT) ** 2


def volume_y(row: Row, gain_db: float) -> float:
    """The pixel row of the volume line of a clip at `gain_db` in audio row `row`."""
    top, height = clip_band(row)
    return top + (1 - gain_height(gain_db)) * (height - 1)


def fade_handle_x(geometry: TimelineGeometry, span: AudioSpan, fade_in: bool) -> float:
    """The x of the centre of a clip's fade-in (or fade-out) handle: where its fade ends (or starts), kept
    inside the clip so that the handle of a clip without a fade sits in its top corner."""
    x0, x1 = geometry.x_of(span.start), geometry.x_of(span.end)
    x = geometry.x_of(span.start + span.fade_in) if fade_in else geometry.x_of(span.end - span.fade_out)
    half = FADE_HANDLE_PX / 2
    return min(max(x, x0 + half), x1 - half)


def has_fade_handles(geometry: TimelineGeometry, span: AudioSpan) -> bool:
    """Whether the clip is drawn wide enough to carry its two fade handles apart."""
    return (span.end - span.start) * geometry.pixels_per_frame >= 3 * FADE_HANDLE_PX


def fade_handle_rect(geometry: TimelineGeometry, row: Row, span: AudioSpan, fade_in: bool) -> Rect:
    """(left, top, width, height) in pixels of a clip's fade-in (or fade-out) handle in audio row `row`."""
    centre = fade_handle_x(geometry, span, fade_in)
    return centre - FADE_HANDLE_PX / 2, clip_band(row)[0], FADE_HANDLE_PX, FADE_HANDLE_PX


def fade_ramp(
    geometry: TimelineGeometry, row: Row, span: AudioSpan, fade_in: bool
) -> tuple[Point, Point, Point] | None:
    """The triangle of a clip's fade-in (or fade-out), None without that fade: the ramp rises from silence
    at the clip's edge, bottom, to the clip's volume line where the fade ends (first two points); the third,
    at the edge on the volume line, closes the part of the sound the fade takes away."""
    frames = span.fade_in if fade_in else span.fade_out
    if not frames:
        return None
    top, height = clip_band(row)
    bottom, line = top + height - 1, volume_y(row, span.gain_db)
    edge = geometry.x_of(span.start if fade_in else span.end)
    inner = geometry.x_of(span.start + frames if fade_in else span.end - frames)
    return (edge, bottom), (inner, line), (edge, line)


def label_room(geometry: TimelineGeometry, span: AudioSpan) -> tuple[float, float]:
    """The pixels [left, right) where a clip's name is drawn: on screen, clear of its fade ramps and fade
    handles (the fade-in handle sits where the fade-in ends, the fade-out handle where the fade-out starts).
    Empty (left >= right) where there is no room."""
    x0, x1 = geometry.x_of(span.start), geometry.x_of(span.end)
    left = max(x0, HEADER_WIDTH, geometry.x_of(span.start + span.fade_in))
    right = min(x1, geometry.width, geometry.x_of(span.end - span.fade_out))
    if has_fade_handles(geometry, span):
        left = max(left, fade_handle_x(geometry, span, True) + FADE_HANDLE_PX / 2 + LABEL_GAP_PX)
        if span.length_known:
            right = min(right, fade_handle_x(geometry, span, False) - FADE_HANDLE_PX / 2 - LABEL_GAP_PX)
    return left, right


def _hit_audio(
    geometry: TimelineGeometry, row: Row, spans: Sequence[AudioSpan], x: float, y: float, frame: float
) -> Hit:
    top, height = clip_band(row)
    reach = FADE_HANDLE_PX / 2 + 2
    for index in reversed(range(len(spans))):  # the clip drawn last is on top
        span = spans[index]
        inside = geometry.x_of(span.start) <= x < geometry.x_of(span.end) and top <= y < top + height
        if span.track != row.track or not inside:
            continue
        if has_fade_handles(geometry, span) and y <= top + FADE_HANDLE_PX + 2:
            # The fade-out handle of a clip whose end is still a guess is not offered (see AudioSpan).
            sides = [HitKind.fade_in, HitKind.fade_out] if span.length_known else [HitKind.fade_in]
            near = [(abs(fade_handle_x(geometry, span, side is HitKind.fade_in) - x), side) for side in sides]
            distance, side = min(near, key=lambda pair: pair[0])
            if distance <= reach:
                return Hit(side, frame, index)
        if abs(volume_y(row, span.gain_db) - y) <= VOLUME_PICK_PX:
            return Hit(HitKind.volume, frame, index)
        return Hit(HitKind.audio_clip, frame, index)
    return Hit(HitKind.audio, frame, row.track)


def _hit_beat(geometry: TimelineGeometry, beat_frames: Sequence[float], x: float, frame: float) -> Hit:
    i = bisect.bisect_left(beat_frames, frame)
    near = [j for j in (i - 1, i) if 0 <= j < len(beat_frames)]
    if near:
        j = min(near, key=lambda k: abs(beat_frames[k] - frame))
        if abs(geometry.x_of(beat_frames[j]) - x) <= BEAT_PX:
            return Hit(HitKind.beat, frame, j)
    return Hit(HitKind.beats, frame)


def _hit_act(geometry: TimelineGeometry, starts: Sequence[int], x: float, frame: float) -> Hit:
    acts = len(starts) - 1
    if acts <= 0:
        return Hit(HitKind.none, frame)
    ppf = geometry.pixels_per_frame
    # The nearest cut: its roll zone shrinks with the acts beside it, so tiny acts keep a body to grab.
    j = min(max(bisect.bisect_left(starts, frame), 1), acts)
    for cut in (j - 1, j):
        if 1 <= cut < acts:
            zone = min(
                CUT_PX, (starts[cut] - starts[cut - 1]) * ppf / 4, (starts[cut + 1] - starts[cut]) * ppf / 4
            )
            if abs(geometry.x_of(starts[cut]) - x) <= zone:
                return Hit(HitKind.cut, frame, cut - 1)
    end_x = geometry.x_of(starts[-1])
    if frame >= starts[-1]:
        # Just past the last act is still its trim handle: there is no cut there to grab.
        return (
            Hit(HitKind.act_edge, frame, acts - 1) if x - end_x <= EDGE_PX / 2 else Hit(HitKind.none, frame)
        )
    if frame < 0:
        return Hit(HitKind.none, frame)
    index = bisect.bisect_right(starts, frame) - 1
    width = (starts[index + 1] - starts[index]) * ppf
    if geometry.x_of(starts[index + 1]) - x <= min(EDGE_PX, width / 3):
        return Hit(HitKind.act_edge, frame, index)
    return Hit(HitKind.act, frame, index)


def insertion_boundary(starts: Sequence[int], frame: float) -> int:
    """The gap between acts nearest to `frame`: 0 = before the first act, len(starts) - 1 = after the last.

    The pointer over an act's left half means "before it", over its right half "after it".
    """
    acts = len(starts) - 1
    if acts <= 0 or frame <= 0:
        return 0
    if frame >= starts[-1]:
        return acts
    index = bisect.bisect_right(starts, frame) - 1
    return index if frame < (starts[index] + starts[index + 1]) / 2 else index + 1
