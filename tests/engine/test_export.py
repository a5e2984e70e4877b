"""Final export: each format round-trips through PyAV, timing is exact, audio and metadata survive, and a
failed or cancelled export leaves the target folder exactly as it was."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from app.engine.cancel import CancelToken
from app.engine.export import AudioSource, ExportFormat, ExportSettings, export_video, format_for_path
from app.errors import Cancelled, InputError, RenderError

WIDTH, HEIGHT = 128, 72
RECIPE = json.dumps(
    {"acts": [{"prompt": "a café at dusk — «neon»\nsecond line", "seed": 7}], "backend": "motion"},
    ensure_ascii=False,
)
AAC_FRAME = 1024  # samples per AAC frame: the encoder pads the last one


def gradient(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A smooth, saturated colour gradient that drifts by `index` pixels: easy to encode, easy to compare."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = (x + index) / width * 255
    green = y / height * 255
    blue = 255 - (x + y) / (width + height) * 255
    return np.clip(np.stack([red, green, blue], axis=-1), 0, 255).astype(np.uint8)


def gradients(count: int, width: int = WIDTH, height: int = HEIGHT) -> Iterator[np.ndarray]:
    return (gradient(i, width, height) for i in range(count))


def sine_source(
    freq_hz: float, rate: int, channels: int, calls: list[tuple[int, int]] | None = None
) -> AudioSource:
    def source(start: int, count: int) -> np.ndarray:
        if calls is not None:
            calls.append((start, count))
        t = np.arange(start, start + count) / rate
        mono = 0.5 * np.sin(2 * np.pi * freq_hz * t)
        return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)

    return source


def failing_frames(count: int, fail_at: int) -> Iterator[np.ndarray]:
    for i in range(count):
        if i == fail_at:
            raise ValueError("renderer exploded")
        yield gradient(i)


def settings(
    fmt: ExportFormat = ExportFormat.h264, fps: Fraction = Fraction(24), **kw: object
) -> ExportSettings:
    return ExportSettings(fps=fps, width=WIDTH, height=HEIGHT, format=fmt, preset="ultrafast", **kw)  # type: ignore[arg-type]


def decode_video(path: Path) -> tuple[av.VideoStream, list[av.VideoFrame], dict[str, str]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return stream, frames, dict(container.metadata)


def export_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "export-frames"]


@pytest.mark.parametrize(
    ("name", "requested", "expected"),
    [
        ("film.mp4", None, ExportFormat.h264),
        ("film.MP4", "h265", ExportFormat.h265),
        ("film.mp4", "mp4", ExportFormat.h264),
        ("film.mov", None, ExportFormat.prores),
        ("film.mov", "mov", ExportFormat.prores),
        ("frames", None, ExportFormat.png),
        ("frames.png", "png", ExportFormat.png),
    ],
)
def test_format_for_path(name: str, requested: str | None, expected: ExportFormat, tmp_path: Path) -> None:
    assert format_for_path(tmp_path / name, requested) is expected


@pytest.mark.parametrize(
    ("name", "requested", "named"),
    [("film.mp4", "webm", "webm"), ("film.mkv", None, ".mkv"), ("film.mp4", "prores", "film.mp4")],
)
def test_format_for_path_rejects_nonsense(
    name: str, requested: str | None, named: str, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=named):
        format_for_path(tmp_path / name, requested)


@pytest.mark.parametrize(
    ("fmt", "name", "codec", "pix_fmt"),
    [
        (ExportFormat.h264, "out.mp4", "h264", "yuv420p"),
        (ExportFormat.h265, "out.mp4", "hevc", "yuv420p"),
        (ExportFormat.prores, "out.mov", "prores", "yuv422p10le"),
    ],
)
def test_video_formats_round_trip(
    fmt: ExportFormat, name: str, codec: str, pix_fmt: str, tmp_path: Path
) -> None:
    count = 12
    done: list[tuple[int, int]] = []
    metadata = {"storybeat_recipe": RECIPE, "title": "Night drive"}

    out = export_video(
        tmp_path / name,
        gradients(count),
        count,
        settings(fmt),
        metadata=metadata,
        progress=lambda i, n: done.append((i, n)),
    )

    assert out == tmp_path / name
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    stream, frames, tags = decode_video(out)
    assert stream.codec_context.name == codec
    assert stream.codec_context.pix_fmt == pix_fmt
    assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
    assert len(frames) == count
    assert stream.average_rate == 24
    assert stream.duration is not None and stream.time_base is not None
    assert stream.duration * stream.time_base == Fraction(count, 24)
    # mean error of a BT.709 round trip; a BT.601/709 mismatch on this saturated gradient is > 5
    first = frames[0].to_ndarray(format="rgb24").astype(np.int16)
    assert np.abs(first - gradient(0)).mean() < 3.0
    assert tags["storybeat_recipe"] == RECIPE
    assert tags["title"] == "Night drive"
    assert done == [(i + 1, count) for i in range(count)]
    if fmt is ExportFormat.h265:
        assert stream.codec_tag == "hvc1"
    if fmt is ExportFormat.prores:
        assert stream.codec_context.profile == "HQ"


def test_png_folder_holds_lossless_frames_audio_and_recipe(tmp_path: Path) -> None:
    count, rate = 6, 48000
    fmt_settings = ExportSettings(fps=Fraction(24), width=33, height=17, format=ExportFormat.png)

    out = export_video(
        tmp_path / "shot.png",
        gradients(count, 33, 17),
        count,
        fmt_settings,
        audio=sine_source(440, rate, 2),
        metadata={"storybeat_recipe": RECIPE},
    )

    assert out == tmp_path / "shot"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot"]
    expected = [f"frame_{i:06d}.png" for i in range(1, count + 1)]
    assert sorted(p.name for p in out.iterdir()) == sorted([*expected, "audio.wav", "recipe.json"])
    for index, name in enumerate(expected):
        with av.open(str(out / name)) as image:
            decoded = next(image.decode(video=0)).to_ndarray(format="rgb24")
        np.testing.assert_array_equal(decoded, gradient(index, 33, 17))
    with av.open(str(out / "audio.wav")) as wav:
        assert wav.streams.audio[0].codec_context.name == "pcm_s16le"
        assert sum(frame.samples for frame in wav.decode(audio=0)) == count * rate // 24
    assert json.loads((out / "recipe.json").read_text(encoding="utf-8")) == {"storybeat_recipe": RECIPE}


def test_ntsc_rate_timestamps_are_exact(tmp_path: Path) -> None:
    fps, count = Fraction(30000, 1001), 30

    out = export_video(tmp_path / "ntsc.mp4", gradients(count), count, settings(fps=fps))

    stream, frames, _ = decode_video(out)
    assert stream.average_rate == fps
    assert stream.duration is not None and stream.time_base is not None
    assert stream.duration * stream.time_base == Fraction(count * 1001, 30000)
    assert [frame.time for frame in frames] == [float(i / fps) for i in range(count)]


def test_aac_audio_covers_the_video_and_keeps_its_pitch(tmp_path: Path) -> None:
    count, rate, freq = 36, 44100, 440.0  # 1.5 s at 24 fps
    calls: list[tuple[int, int]] = []
    frames_pulled: list[int] = []
    audio_calls_at: list[int] = []
    source = sine_source(freq, rate, 2, calls)

    def tracked_source(start: int, n: int) -> np.ndarray:
        audio_calls_at.append(len(frames_pulled))
        return source(start, n)

    def tracked_frames() -> Iterator[np.ndarray]:
        for i in range(count):
            frames_pulled.append(i)
            yield gradient(i)

    out = export_video(
        tmp_path / "music.mp4",
        tracked_frames(),
        count,
        settings(audio_sample_rate=rate),
        audio=tracked_source,
    )

    total = count * rate // 24
    # the mixer is asked for contiguous chunks covering exactly the film, a little at a time
    assert calls[0][0] == 0
    assert all(start + n == following for (start, n), (following, _) in itertools.pairwise(calls))
    assert sum(n for _, n in calls) == total
    assert max(n for _, n in calls) <= rate
    assert audio_calls_at[0] < count, "audio must be pulled while frames are still coming"
    with av.open(str(out)) as container:
        audio_stream = container.streams.audio[0]
        assert audio_stream.codec_context.name == "aac"
        assert audio_stream.rate == rate and audio_stream.channels == 2
        decoded = np.concatenate([frame.to_ndarray() for frame in container.decode(audio_stream)], axis=1)
    assert abs(decoded.shape[1] - total) <= AAC_FRAME
    spectrum = np.abs(np.fft.rfft(decoded[0] * np.hanning(decoded.shape[1])))
    peak_hz = np.argmax(spectrum) * rate / decoded.shape[1]
    assert abs(peak_hz - freq) < 2.0


def test_frames_are_pulled_at_most_a_few_ahead_of_the_encoder(tmp_path: Path) -> None:
    count = 40
    pulled = 0
    ahead: list[int] = []

    def counted_frames() -> Iterator[np.ndarray]:
        nonlocal pulled
        for i in range(count):
            pulled += 1
            yield gradient(i)

    export_video(
        tmp_path / "film.mp4",
        counted_frames(),
        count,
        settings(),
        progress=lambda done, total: ahead.append(pulled - done),
    )

    # the feed queue (4) plus the frame being handed over: memory does not grow with a fast source
    assert len(ahead) == count
    assert max(ahead) <= 5


def test_missing_folder_is_input_error_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"

    with pytest.raises(InputError, match=re.escape(str(missing))):
        export_video(missing / "film.mp4", gradients(3), 3, settings())

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("fmt", "name"), [(ExportFormat.h264, "film.mp4"), (ExportFormat.png, "frames")])
def test_cancel_midway_leaves_nothing(fmt: ExportFormat, name: str, tmp_path: Path) -> None:
    token = CancelToken()

    def cancel_at_five(done: int, total: int) -> None:
        if done == 5:
            token.cancel()

    with pytest.raises(Cancelled):
        export_video(
            tmp_path / name,
            gradients(40),
            40,
            settings(fmt),
            audio=sine_source(220, 48000, 2),
            progress=cancel_at_five,
            cancel=token,
        )

    assert list(tmp_path.iterdir()) == []
    assert export_threads() == []


@pytest.mark.parametrize(("fmt", "name"), [(ExportFormat.prores, "film.mov"), (ExportFormat.png, "frames")])
def test_frame_iterator_error_propagates_and_leaves_nothing(
    fmt: ExportFormat, name: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="renderer exploded"):
        export_video(tmp_path / name, failing_frames(20, fail_at=7), 20, settings(fmt))

    assert list(tmp_path.iterdir()) == []
    assert export_threads() == []


def test_existing_file_survives_a_failed_export_and_is_replaced_by_a_good_one(tmp_path: Path) -> None:
    out = tmp_path / "film.mp4"
    out.write_bytes(b"the previous export")

    with pytest.raises(ValueError):
        export_video(out, failing_frames(10, fail_at=4), 10, settings())
    assert out.read_bytes() == b"the previous export"
    assert list(tmp_path.iterdir()) == [out]

    export_video(out, gradients(4), 4, settings())
    assert len(decode_video(out)[1]) == 4
    assert list(tmp_path.iterdir()) == [out]


def test_previous_png_export_is_replaced_but_a_foreign_folder_is_refused(tmp_path: Path) -> None:
    png = settings(ExportFormat.png)
    export_video(tmp_path / "frames", gradients(5), 5, png, audio=sine_source(220, 48000, 2))
    export_video(tmp_path / "frames", gradients(2), 2, png)
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["frame_000001.png", "frame_000002.png"]

    holiday = tmp_path / "holiday"
    holiday.mkdir()
    (holiday / "beach.jpg").write_bytes(b"jpeg")
    with pytest.raises(InputError, match=re.escape("beach.jpg")):
        export_video(holiday, gradients(2), 2, png)
    assert [p.name for p in holiday.iterdir()] == ["beach.jpg"]


@pytest.mark.parametrize(
    "fields",
    [
        {"width": 127},
        {"height": 71},
        {"width": 0},
        {"crf": 60},
        {"preset": "instant"},
        {"audio_sample_rate": 12345},
        {"audio_channels": 6},
    ],
)
def test_bad_settings_are_input_errors(fields: dict[str, object]) -> None:
    values: dict[str, object] = {"fps": Fraction(24), "width": WIDTH, "height": HEIGHT, **fields}
    with pytest.raises(InputError, match=str(next(iter(fields.values())))):
        ExportSettings(**values)  # type: ignore[arg-type]


def test_odd_size_is_fine_for_png_only() -> None:
    assert ExportSettings(fps=Fraction(24), width=33, height=17, format=ExportFormat.png).width == 33
    with pytest.raises(InputError, match="33x17"):
        ExportSettings(fps=Fraction(24), width=33, height=17, format=ExportFormat.prores)


def test_zero_frames_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="frame_count"):
        export_video(tmp_path / "film.mp4", iter([]), 0, settings())
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_size_names_the_frame(tmp_path: Path) -> None:
    frames = [gradient(0), gradient(1), gradient(2, WIDTH // 2, HEIGHT), gradient(3)]

    with pytest.raises(RenderError, match="frame 2"):
        export_video(tmp_path / "film.mp4", frames, 4, settings())
    assert list(tmp_path.iterdir()) == []


def test_too_few_frames_is_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="after 3 of 5"):
        export_video(tmp_path / "film.mp4", gradients(3), 5, settings())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(30)
def test_audio_source_of_the_wrong_shape_is_render_error_and_stops_the_frame_thread(tmp_path: Path) -> None:
    def mono_source(start: int, count: int) -> np.ndarray:
        return np.zeros(count, dtype=np.float32)

    # more frames than the feed queue holds: the frame thread is blocked on a full queue when the error hits
    with pytest.raises(RenderError, match="audio source returned shape"):
        export_video(tmp_path / "film.mp4", gradients(30), 30, settings(), audio=mono_source)
    assert list(tmp_path.iterdir()) == []
    assert export_threads() == []
