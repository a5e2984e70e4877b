"""Final export (stage 6, "Output"): frames and mixed audio into an H.264/H.265/ProRes file or a PNG folder.

The export is written under a temporary name next to the target and renamed over it only when complete, so a
failed or cancelled export never leaves a truncated file at the target and never damages what was there.
Frames are produced on a background thread (bounded queue) while the main thread encodes, and audio is pulled
from the mixer in short chunks as the video advances: memory stays flat however long the film is.

RGB frames are converted to Y'CbCr with the BT.709 matrix (limited range) and the streams are tagged BT.709,
which is what players assume for HD video; an untagged BT.601 conversion would shift colours on playback.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import cast

import av
import numpy as np
from av.container import OutputContainer
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, VideoReformatter

from app.engine.cancel import CancelToken, ProgressFn, no_progress
from app.errors import InputError, RenderError

#: (start_sample, count) -> float32 array of shape (count, channels), samples in -1..1 at the export rate.
AudioSource = Callable[[int, int], np.ndarray]


class ExportFormat(StrEnum):
    """What the final export is encoded as; each maps to one encoder, pixel format and container."""

    h264 = "h264"
    h265 = "h265"
    prores = "prores"
    png = "png"


@dataclass(frozen=True)
class _Codec:
    encoder: str
    pix_fmt: str
    container: str  # libavformat muxer name
    suffix: str  # file suffix of the export ("" for the PNG folder)


_CODECS: dict[ExportFormat, _Codec] = {
    ExportFormat.h264: _Codec("libx264", "yuv420p", "mp4", ".mp4"),
    ExportFormat.h265: _Codec("libx265", "yuv420p", "mp4", ".mp4"),
    ExportFormat.prores: _Codec("prores_ks", "yuv422p10le", "mov", ".mov"),
    ExportFormat.png: _Codec("png", "rgb24", "image2", ""),
}
_FORMATS_BY_SUFFIX: dict[str, tuple[ExportFormat, ...]] = {  # the first one is the default
    ".mp4": (ExportFormat.h264, ExportFormat.h265),
    ".mov": (ExportFormat.prores,),
    ".png": (ExportFormat.png,),
    "": (ExportFormat.png,),
}
_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
_CHANNEL_LAYOUTS = {1: "mono", 2: "stereo"}
_AAC_RATES = frozenset(av.Codec("aac", "w").audio_rates or ())
_PNG_FRAME_PATTERN = "frame_%06d.png"
_PNG_EXPORT_ENTRY = re.compile(r"frame_\d{6,}\.png|audio\.wav|recipe\.json")
_QUEUE_FRAMES = 4  # enough to hide jitter in frame production; each 1080p frame is ~3-6 MB
_AUDIO_CHUNK_SECONDS = Fraction(1, 2)  # mixer calls per second of film vs. memory held per call
_AVCOL_SPC_BT709 = 1  # AVColorSpace; PyAV exposes no enum for the codec-context field


def format_for_path(path: Path, requested: str | None) -> ExportFormat:
    """The export format for `path` and an optional requested format (a codec name or "mp4"/"mov"/"png").

    `.mp4` gives h264 (h265 only when requested), `.mov` gives prores, `.png` or a name without a suffix
    (a folder) gives png. Raises InputError naming the value when the request or the suffix makes no sense.
    """
    suffix = "" if path.is_dir() else path.suffix.lower()
    if suffix not in _FORMATS_BY_SUFFIX:
        raise InputError(
            f"{path}: unknown export suffix {path.suffix!r}, expected .mp4, .mov, .png or a folder"
        )
    allowed = _FORMATS_BY_SUFFIX[suffix]
    if requested is None:
        return allowed[0]
    aliases = {"mp4": ExportFormat.h264, "mov": ExportFormat.prores}
    name = requested.strip().lower()
    if name not in aliases and name not in ExportFormat.__members__:
        choices = ", ".join([*ExportFormat, *aliases])
        raise InputError(f"export format {requested!r} is unknown, expected one of {choices}")
    chosen = aliases.get(name) or ExportFormat(name)
    if chosen not in allowed:
        where = f"a {suffix} file" if suffix else "a folder"
        raise InputError(
            f"{path}: cannot write {chosen} to {where}, expected {_CODECS[chosen].suffix or 'a folder'}"
        )
    return chosen


@dataclass(frozen=True)
class ExportSettings:
    """How to encode: frame rate (frames per second), size in pixels, codec and audio parameters.

    `crf` (0..51, lower is better) and `preset` (x264/x265 speed) apply to h264/h265 only. Invalid values
    raise InputError on construction, so an export never starts with settings it cannot honour.
    """

    fps: Fraction
    width: int
    height: int
    format: ExportFormat = ExportFormat.h264
    crf: int = 18
    preset: str = "medium"
    audio_sample_rate: int = 48000
    audio_channels: int = 2
    audio_bitrate: int = 192_000

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise InputError(f"export fps must be > 0, got {self.fps}")
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"export size must be positive, got {self.width}x{self.height}")
        # 4:2:0 and 4:2:2 subsample chroma by two: an odd size cannot be encoded
        if self.format is not ExportFormat.png and (self.width % 2 or self.height % 2):
            raise InputError(f"{self.format} export size must be even, got {self.width}x{self.height}")
        if not 0 <= self.crf <= 51:
            raise InputError(f"export crf must be in 0..51, got {self.crf}")
        if self.preset not in _PRESETS:
            raise InputError(
                f"export preset {self.preset!r} is unknown, expected one of {', '.join(_PRESETS)}"
            )
        if self.audio_sample_rate not in _AAC_RATES:
            raise InputError(
                f"audio sample rate {self.audio_sample_rate} Hz is not supported, "
                f"expected one of {', '.join(map(str, sorted(_AAC_RATES)))}"
            )
        if self.audio_channels not in _CHANNEL_LAYOUTS:
            raise InputError(f"audio channels must be 1 or 2, got {self.audio_channels}")
        if self.audio_bitrate <= 0:
            raise InputError(f"audio bitrate must be > 0, got {self.audio_bitrate}")


def export_video(
    out: Path,
    frames: Iterable[np.ndarray],
    frame_count: int,
    settings: ExportSettings,
    audio: AudioSource | None = None,
    metadata: Mapping[str, str] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Encode exactly `frame_count` RGB uint8 frames (H, W, 3) to `out` and return the path written.

    Audio, if given, is pulled from `audio` and covers exactly frame_count / fps seconds. `metadata` is
    stored in the container (mp4/mov) or in `recipe.json` (png). For png, `out` names the folder to create
    (a `.png` suffix is dropped) holding `frame_000001.png`…, `audio.wav` and `recipe.json`.
    `progress(done_frames, frame_count)` is called after each frame; `cancel` is checked per frame.
    Raises InputError for bad arguments (before any work), RenderError when encoding fails, Cancelled on
    cancel, and re-raises errors from `frames` or `audio`; in every failure `out` is left as it was.
    """
    out = Path(out)
    target = _check_target(out, settings.format)
    if frame_count <= 0:
        raise InputError(f"{target}: nothing to export (frame_count is {frame_count})")
    tags = _check_metadata(target, metadata or {})
    token = cancel or CancelToken()

    partial = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}{target.suffix}")
    try:
        with _FrameFeed(frames, frame_count, _frame_converter(settings), token) as feed:
            writer = _Writer(partial, target, settings, tags, with_audio=audio is not None)
            try:
                _encode(writer, feed, frame_count, settings, audio, progress, token)
                writer.finish()
            finally:
                writer.close()
        with _render_errors(f"{target}: could not move the finished export into place"):
            _install(partial, target)
    except BaseException:
        _remove(partial)
        raise
    return target


def _encode(
    writer: _Writer,
    feed: _FrameFeed,
    frame_count: int,
    settings: ExportSettings,
    audio: AudioSource | None,
    progress: ProgressFn,
    cancel: CancelToken,
) -> None:
    samples_per_frame = Fraction(settings.audio_sample_rate) / settings.fps
    total_samples = round(frame_count * samples_per_frame)
    pump = None if audio is None else _AudioPump(audio, writer, settings, total_samples)
    for index in range(frame_count):
        cancel.raise_if_cancelled()
        writer.write_video(feed.next_frame())
        if pump is not None:
            # keeps audio packets next to the video they play with, so the muxer never buffers far ahead
            pump.fill_to(round((index + 1) * samples_per_frame))
        progress(index + 1, frame_count)


def _check_target(out: Path, fmt: ExportFormat) -> Path:
    """The path the export will occupy; raises InputError if it cannot be written there."""
    target = out.with_suffix("") if fmt is ExportFormat.png and out.suffix.lower() == ".png" else out
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{folder}: export folder does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{folder}: export folder is not writable")
    expected = _CODECS[fmt].suffix
    if fmt is not ExportFormat.png:
        if target.suffix.lower() != expected:
            raise InputError(f"{target}: a {fmt} export must be named *{expected}")
        if target.is_dir():
            raise InputError(f"{target}: is a folder, expected a {expected} file name")
    elif target.suffix.lower() in (".mp4", ".mov"):
        raise InputError(f"{target}: a png export is a folder, not a {target.suffix} file")
    elif target.exists():
        if not target.is_dir():
            raise InputError(f"{target}: exists and is not a folder, cannot write a PNG sequence there")
        # only a previous PNG export may be replaced: never delete a folder of the user's own files
        foreign = [p.name for p in target.iterdir() if not _PNG_EXPORT_ENTRY.fullmatch(p.name)]
        if foreign:
            raise InputError(
                f"{target}: folder is not a PNG export (contains {foreign[0]!r}), choose another"
            )
    return target


def _check_metadata(target: Path, metadata: Mapping[str, str]) -> dict[str, str]:
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise InputError(f"{target}: metadata {key!r} must map a non-empty string to a string")
        if "\0" in key or "\0" in value:  # container tags are C strings
            raise InputError(f"{target}: metadata {key!r} contains a NUL character")
    return dict(metadata)


def _frame_converter(settings: ExportSettings) -> Callable[[int, np.ndarray], av.VideoFrame]:
    """A function turning frame `index` (RGB uint8) into a VideoFrame in the encoder's pixel format."""
    shape = (settings.height, settings.width, 3)
    pix_fmt = _CODECS[settings.format].pix_fmt
    reformatter = VideoReformatter()

    def convert(index: int, array: np.ndarray) -> av.VideoFrame:
        if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != np.uint8:
            got = f"{array.shape} {array.dtype}" if isinstance(array, np.ndarray) else type(array).__name__
            raise RenderError(f"frame {index}: expected a uint8 array of shape {shape}, got {got}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
        if pix_fmt != "rgb24":
            frame = reformatter.reformat(
                frame,
                format=pix_fmt,
                src_colorspace=Colorspace.ITU709,
                dst_colorspace=Colorspace.ITU709,
                src_color_range=ColorRange.JPEG,
                dst_color_range=ColorRange.MPEG,
            )
        frame.pts = index
        return frame

    return convert


@dataclass(frozen=True)
class _Failure:
    error: BaseException


class _FrameFeed:
    """Pulls and converts frames on a background thread, `_QUEUE_FRAMES` ahead of the encoder.

    The thread stops when the consumer leaves the `with` block (success, error or cancel) and is always
    joined there; an exception from the frames iterator is raised in the consumer by `next_frame`.
    """

    def __init__(
        self,
        frames: Iterable[np.ndarray],
        frame_count: int,
        convert: Callable[[int, np.ndarray], av.VideoFrame],
        cancel: CancelToken,
    ) -> None:
        self._frames = frames
        self._frame_count = frame_count
        self._convert = convert
        self._cancel = cancel
        self._queue: queue.Queue[av.VideoFrame | _Failure] = queue.Queue(maxsize=_QUEUE_FRAMES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="export-frames", daemon=True)

    def __enter__(self) -> _FrameFeed:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def next_frame(self) -> av.VideoFrame:
        """The next converted frame; raises what the iterator raised, or Cancelled while waiting."""
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                # a slow frame source must not delay a cancel
                self._cancel.raise_if_cancelled()
                continue
            if isinstance(item, _Failure):
                raise item.error
            return item

    def _produce(self) -> None:
        try:
            iterator = iter(self._frames)
            for index in range(self._frame_count):
                if self._stop.is_set() or self._cancel.cancelled:
                    return
                try:
                    array = next(iterator)
                except StopIteration:
                    raise RenderError(f"frames ended after {index} of {self._frame_count}") from None
                if not self._put(self._convert(index, array)):
                    return
        except BaseException as error:  # whatever the iterator raised is the consumer's to handle
            self._put(_Failure(error))

    def _put(self, item: av.VideoFrame | _Failure) -> bool:
        """Queue `item`, waiting for room; False if the consumer left meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


class _AudioPump:
    """Pulls audio from the mixer in chunks of `_AUDIO_CHUNK_SECONDS`, never past the film's last sample."""

    def __init__(self, source: AudioSource, writer: _Writer, settings: ExportSettings, total: int) -> None:
        self._source = source
        self._writer = writer
        self._rate = settings.audio_sample_rate
        self._channels = settings.audio_channels
        self._chunk = round(self._rate * _AUDIO_CHUNK_SECONDS)
        self._total = total
        self._written = 0

    def fill_to(self, sample: int) -> None:
        """Make sure audio up to `sample` (exclusive, in samples from the film's start) has been written."""
        while self._written < min(sample, self._total):
            count = min(self._chunk, self._total - self._written)
            block = np.asarray(self._source(self._written, count), dtype=np.float32)
            span = f"samples {self._written}..{self._written + count}"
            if block.shape != (count, self._channels):
                expected = (count, self._channels)
                raise RenderError(
                    f"audio source returned shape {block.shape} for {span}, expected {expected}"
                )
            if not np.isfinite(block).all():
                raise RenderError(f"audio source returned NaN or infinity in {span}")
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block.T), format="fltp", layout=_CHANNEL_LAYOUTS[self._channels]
            )
            frame.sample_rate = self._rate
            frame.pts = self._written
            self._writer.write_audio(frame)
            self._written += count


class _Writer:
    """The open output at `partial`: one mp4/mov container, or a PNG sequence plus a WAV file in a folder.

    Errors from the encoders and the file system become RenderError naming the export target.
    """

    def __init__(
        self, partial: Path, target: Path, settings: ExportSettings, tags: dict[str, str], with_audio: bool
    ) -> None:
        self._target = target
        self._containers: list[OutputContainer] = []
        try:
            with self._errors("could not start the export"):
                self._video, self._audio = self._open_streams(partial, settings, tags, with_audio)
        except BaseException:
            self.close()
            raise

    def write_video(self, frame: av.VideoFrame) -> None:
        container, stream = self._video
        with self._errors("could not encode video"):
            container.mux(stream.encode(frame))

    def write_audio(self, frame: av.AudioFrame) -> None:
        assert self._audio is not None, "audio written to an export opened without audio"
        container, stream = self._audio
        with self._errors("could not encode audio"):
            container.mux(stream.encode(frame))

    def finish(self) -> None:
        """Flush the encoders and close the files; the output is complete after this."""
        with self._errors("could not finish the export"):
            video_out, video = self._video
            video_out.mux(video.encode(None))
            if self._audio is not None:
                audio_out, audio = self._audio
                audio_out.mux(audio.encode(None))
            while self._containers:
                self._containers.pop().close()

    def close(self) -> None:
        """Close whatever is still open after a failure; the partial output is discarded anyway."""
        while self._containers:
            with suppress(av.FFmpegError, OSError):
                self._containers.pop().close()

    def _open_streams(
        self, partial: Path, settings: ExportSettings, tags: dict[str, str], with_audio: bool
    ) -> tuple[tuple[OutputContainer, av.VideoStream], tuple[OutputContainer, av.AudioStream] | None]:
        if settings.format is ExportFormat.png:
            partial.mkdir()
            if tags:
                recipe = json.dumps(tags, indent=2, ensure_ascii=False) + "\n"
                (partial / "recipe.json").write_text(recipe, encoding="utf-8")
            video_out = self._open(partial / _PNG_FRAME_PATTERN, "image2", {})
            audio_out = self._open(partial / "audio.wav", "wav", {}) if with_audio else None
        else:
            # without use_metadata_tags the mp4/mov muxers drop every key they do not know
            video_out = self._open(
                partial, _CODECS[settings.format].container, {"movflags": "use_metadata_tags"}
            )
            video_out.metadata.update(tags)
            audio_out = video_out if with_audio else None
        video = (video_out, _add_video_stream(video_out, settings))
        return video, (audio_out, _add_audio_stream(audio_out, settings)) if audio_out else None

    def _open(self, path: Path, container: str, options: dict[str, str]) -> OutputContainer:
        output = av.open(str(path), mode="w", format=container, options=options)
        self._containers.append(output)
        return output

    def _errors(self, doing: str) -> AbstractContextManager[None]:
        return _render_errors(f"{self._target}: {doing}")


@contextmanager
def _render_errors(prefix: str) -> Iterator[None]:
    """Turns PyAV and OS errors inside the block into one RenderError line starting with `prefix`."""
    try:
        yield
    except (av.FFmpegError, OSError) as error:
        raise RenderError(f"{prefix} ({error})") from error


def _add_video_stream(output: OutputContainer, settings: ExportSettings) -> av.VideoStream:
    codec = _CODECS[settings.format]
    options: dict[str, str] = {}
    if settings.format in (ExportFormat.h264, ExportFormat.h265):
        options = {"crf": str(settings.crf), "preset": settings.preset}
    if settings.format is ExportFormat.h265:
        options["x265-params"] = "log-level=error"  # x265 otherwise prints its banner to stderr
    if settings.format is ExportFormat.prores:
        options = {"profile": "3"}  # ProRes 422 HQ
    # rate=fps makes the time base 1/fps: frame i has pts i, exact for 30000/1001
    stream = cast(av.VideoStream, output.add_stream(codec.encoder, rate=settings.fps, options=options))
    stream.width = settings.width
    stream.height = settings.height
    stream.pix_fmt = codec.pix_fmt
    context = stream.codec_context
    context.thread_type = "AUTO"
    context.thread_count = 0  # one per core
    if codec.pix_fmt != "rgb24":
        context.colorspace = _AVCOL_SPC_BT709
        context.color_primaries = ColorPrimaries.BT709
        context.color_trc = ColorTrc.BT709
        context.color_range = ColorRange.MPEG
    if settings.format is ExportFormat.h265:
        stream.codec_tag = "hvc1"  # QuickTime and Apple devices refuse HEVC tagged hev1
    return stream


def _add_audio_stream(output: OutputContainer, settings: ExportSettings) -> av.AudioStream:
    layout = _CHANNEL_LAYOUTS[settings.audio_channels]
    if settings.format is ExportFormat.png:
        return output.add_stream("pcm_s16le", rate=settings.audio_sample_rate, layout=layout)
    stream = output.add_stream("aac", rate=settings.audio_sample_rate, layout=layout)
    stream.bit_rate = settings.audio_bitrate
    return stream


def _install(partial: Path, target: Path) -> None:
    """Move the finished export over `target`; a previous PNG export folder is replaced as a whole."""
    if partial.is_dir() and target.exists():
        previous = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
        os.replace(target, previous)
        try:
            os.replace(partial, target)
        except BaseException:
            os.replace(previous, target)
            raise
        shutil.rmtree(previous, ignore_errors=True)
        return
    if not partial.is_dir():
        # the rename is atomic but not durable by itself: without this a crash could leave an empty file
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
    os.replace(partial, target)


def _remove(partial: Path) -> None:
    if partial.is_dir():
        shutil.rmtree(partial, ignore_errors=True)
    else:
        partial.unlink(missing_ok=True)
