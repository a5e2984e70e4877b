"""Audio engine: decoding, PCM files on disk and the export mixer (beat analysis: test_beats.py)."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.audio.decode import PcmFile, decode_audio, probe_audio
from app.engine.audio.mix import AudioMixer, MixClip
from app.errors import MediaError
from tests.engine.audio_fixtures import as_int16_levels, tone, write_wav

# ---------------------------------------------------------------- decoding


def _channels_of_tones(channels: int, sample_rate: int, duration_s: float) -> np.ndarray:
    """Each channel a different frequency and level, so a swapped or mixed channel shows."""
    return np.stack(
        [tone(220.0 * (c + 1), duration_s, sample_rate, amplitude=0.8 / (c + 1)) for c in range(channels)]
    )


@pytest.mark.parametrize(
    ("sample_rate", "channels"), [(8000, 1), (44100, 2), (192000, 2), (48000, 6)], ids=str
)
def test_decode_wav_keeps_rate_channels_and_samples(tmp_path: Path, sample_rate: int, channels: int) -> None:
    source = _channels_of_tones(channels, sample_rate, 0.5)
    path = write_wav(tmp_path / "in.wav", source, sample_rate)

    samples, rate = decode_audio(path)

    assert rate == sample_rate
    assert samples.dtype == np.float32
    assert samples.shape == source.shape
    np.testing.assert_allclose(samples, as_int16_levels(source), atol=1e-6)
    info = probe_audio(path)
    assert (info.path, info.sample_rate, info.channels) == (path, sample_rate, channels)
    assert info.duration_s == pytest.approx(0.5)


def test_decode_mono_averages_channels(tmp_path: Path) -> None:
    source = _channels_of_tones(2, 44100, 0.2)
    path = write_wav(tmp_path / "stereo.wav", source, 44100)

    samples, _ = decode_audio(path, mono=True)

    assert samples.shape == (1, source.shape[1])
    np.testing.assert_allclose(samples[0], as_int16_levels(source).mean(axis=0), atol=1e-6)


@pytest.mark.parametrize(("source_rate", "target_rate"), [(44100, 48000), (8000, 22050), (192000, 44100)])
def test_resampling_gives_exact_length_and_keeps_pitch_and_timing(
    tmp_path: Path, source_rate: int, target_rate: int
) -> None:
    n = round(1.3 * source_rate) + 7
    signal = np.zeros(n)
    signal[: round(0.5 * source_rate)] = tone(1000.0, 0.5, source_rate)
    click_at = round(1.0 * source_rate)
    signal[click_at] = 0.9
    path = write_wav(tmp_path / "in.wav", signal, source_rate)

    samples, rate = decode_audio(path, sample_rate=target_rate)

    assert rate == target_rate
    assert samples.shape == (1, round(n * target_rate / source_rate))
    half_second = samples[0, : target_rate // 2]
    peak_bin = np.argmax(np.abs(np.fft.rfft(half_second)))
    assert peak_bin * target_rate / half_second.size == pytest.approx(1000.0, abs=4.0)
    click = target_rate + np.argmax(np.abs(samples[0, target_rate:]))
    assert abs(click - click_at * target_rate / source_rate) <= 1


def _png_bytes() -> bytes:
    ok, png = cv2.imencode(".png", np.full((16, 16, 3), 128, dtype=np.uint8))
    assert ok
    return png.tobytes()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("noise.wav", np.random.default_rng(3).bytes(20_000)),
        ("notes.wav", b"this is a text file, not a recording\n" * 40),
        ("picture.mp3", _png_bytes()),
        ("empty.wav", b""),
        ("header-only.wav", None),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_not_audio_raises_media_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes | None
) -> None:
    path = tmp_path / name
    if content is None:
        write_wav(path, np.zeros((2, 0)), 44100)
    else:
        path.write_bytes(content)

    for read in (probe_audio, decode_audio):
        with pytest.raises(MediaError, match=re.escape(str(path))):
            read(path)
    with pytest.raises(MediaError, match=re.escape(str(path))):
        PcmFile.create(path, tmp_path / "out.pcm")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "a failed PcmFile.create leaves no files"


def test_missing_file_raises_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found"):
        decode_audio(tmp_path / "gone.wav")


def test_truncated_wav_decodes_its_readable_part(tmp_path: Path) -> None:
    source = _channels_of_tones(2, 44100, 1.0)
    path = write_wav(tmp_path / "cut.wav", source, 44100)
    data = path.read_bytes()
    whole_frames = 12345
    path.write_bytes(data[: 44 + whole_frames * 4 + 3])  # 44-byte header, 4 bytes a frame, a torn frame

    samples, _ = decode_audio(path)

    assert samples.shape == (2, whole_frames)
    np.testing.assert_allclose(samples, as_int16_levels(source[:, :whole_frames]), atol=1e-6)
    assert probe_audio(path).duration_s == pytest.approx(whole_frames / 44100)


# ---------------------------------------------------------------- PcmFile


def test_pcm_file_round_trip_and_zero_padding(tmp_path: Path) -> None:
    source = _channels_of_tones(2, 48000, 0.25)
    wav = write_wav(tmp_path / "in.wav", source, 48000)

    pcm = PcmFile.create(wav, tmp_path / "cache" / "in.pcm")
    reopened = PcmFile(tmp_path / "cache" / "in.pcm", 48000, 2)

    expected = as_int16_levels(source).T
    assert pcm.frames == reopened.frames == expected.shape[0]
    np.testing.assert_allclose(reopened.read(0, pcm.frames), expected, atol=1e-6)
    head = reopened.read(-10, 30)
    assert head.shape == (30, 2)
    assert not head[:10].any()
    np.testing.assert_allclose(head[10:], expected[:20], atol=1e-6)
    tail = reopened.read(pcm.frames - 5, 12)
    np.testing.assert_allclose(tail[:5], expected[-5:], atol=1e-6)
    assert not tail[5:].any()
    assert not reopened.read(pcm.frames + 100, 8).any()
    assert not reopened.read(-100, 50).any()
    assert reopened.read(3, 0).shape == (0, 2)


def test_pcm_file_converts_rate_and_channels(tmp_path: Path) -> None:
    mono = tone(440.0, 0.5, 44100)
    wav = write_wav(tmp_path / "mono.wav", mono, 44100)

    pcm = PcmFile.create(wav, tmp_path / "mono.pcm", sample_rate=48000, channels=2)

    resampled, _ = decode_audio(wav, sample_rate=48000)
    assert pcm.frames == round(mono.size * 48000 / 44100) == resampled.shape[1]
    frames = pcm.read(0, pcm.frames)
    np.testing.assert_allclose(frames[:, 0], resampled[0], atol=1e-6)
    np.testing.assert_array_equal(frames[:, 0], frames[:, 1])


def test_pcm_file_create_streams_without_holding_the_whole_file(tmp_path: Path) -> None:
    seconds = 60
    wav = write_wav(tmp_path / "long.wav", np.tile(tone(440.0, 1.0, 48000), (2, seconds)), 48000)
    decoded_bytes = seconds * 48000 * 2 * 4

    tracemalloc.start()
    try:
        pcm = PcmFile.create(wav, tmp_path / "long.pcm")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert pcm.frames == seconds * 48000
    assert peak < decoded_bytes / 20


def test_pcm_file_rejects_a_file_of_the_wrong_size(tmp_path: Path) -> None:
    path = tmp_path / "odd.pcm"
    path.write_bytes(b"\0" * 12)  # 1.5 stereo float32 frames
    with pytest.raises(MediaError, match=re.escape(str(path))):
        PcmFile(path, 48000, 2)


# ---------------------------------------------------------------- mixer

RATE = 1000  # one sample a millisecond keeps the expected indices readable


def _ramp_pcm(tmp_path: Path, name: str, frames: int, scale: float = 1e-3) -> tuple[PcmFile, np.ndarray]:
    """A stereo PcmFile whose left channel is a ramp and right channel its negative."""
    ramp = np.arange(frames) * scale
    data = np.stack([ramp, -ramp], axis=1).astype("<f4")
    data.tofile(tmp_path / name)
    return PcmFile(tmp_path / name, RATE, 2), data.astype(np.float64)


def test_mixer_places_clip_by_offset_and_in_point(tmp_path: Path) -> None:
    pcm, source = _ramp_pcm(tmp_path, "a.pcm", 900)
    mixer = AudioMixer([MixClip(pcm, start_s=0.25, in_s=0.1, duration_s=0.3)], sample_rate=RATE)

    out = mixer.render(0, 1000)

    expected = np.zeros((1000, 2))
    expected[250:550] = source[100:400]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out.dtype == np.float32


def test_mixer_applies_gain_and_linear_fades(tmp_path: Path) -> None:
    pcm, source = _ramp_pcm(tmp_path, "a.pcm", 500)
    clip = MixClip(pcm, start_s=0.1, in_s=0.05, duration_s=None, gain_db=-6.0, fade_in_s=0.1, fade_out_s=0.05)

    out = AudioMixer([clip], sample_rate=RATE).render(0, 700)

    length = 450  # to the end of the source from the in-point
    k = np.arange(length)
    envelope = np.minimum(np.minimum(1.0, k / 100), (length - 1 - k) / 50)
    expected = np.zeros((700, 2))
    expected[100:550] = source[50:500] * (10 ** (-6 / 20) * envelope)[:, None]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out[100, 0] == 0.0 and out[549, 0] == 0.0  # fades start and end at silence


def test_mixer_chunks_match_one_render_and_sum_and_clip(tmp_path: Path) -> None:
    loud, _ = _ramp_pcm(tmp_path, "loud.pcm", 800, scale=3e-3)
    quiet, _ = _ramp_pcm(tmp_path, "quiet.pcm", 300)
    clips = [
        MixClip(loud, start_s=-0.2, fade_out_s=0.3),
        MixClip(quiet, start_s=0.35, in_s=0.02, gain_db=3.0, fade_in_s=0.05),
    ]
    mixer = AudioMixer(clips, sample_rate=RATE)

    whole = mixer.render(-50, 1000)
    chunks = np.concatenate([mixer.render(start, 37) for start in range(-50, 950, 37)])[:1000]

    np.testing.assert_array_equal(chunks, whole)
    loud_part = AudioMixer(clips[:1], sample_rate=RATE).render(-50, 1000)
    quiet_part = AudioMixer(clips[1:], sample_rate=RATE).render(-50, 1000)
    np.testing.assert_allclose(whole, np.clip(loud_part + quiet_part, -1, 1), atol=1e-6)
    assert whole.max() == 1.0 and whole.min() == -1.0  # the loud ramp passes full scale and is clipped
    assert whole[679].any() and not whole[680:].any()  # the quiet clip ends last, at timeline frame 630


def test_mixer_rejects_clips_at_another_rate_or_channel_count(tmp_path: Path) -> None:
    pcm, _ = _ramp_pcm(tmp_path, "a.pcm", 10)
    with pytest.raises(ValueError, match=r"a\.pcm"):
        AudioMixer([MixClip(pcm, start_s=0.0)], sample_rate=48000)
    with pytest.raises(ValueError, match=r"a\.pcm"):
        AudioMixer([MixClip(pcm, start_s=0.0)], sample_rate=RATE, channels=1)
