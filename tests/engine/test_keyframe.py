"""The keyframe stage: loading images safely, fitting them to the frame, and the placeholder slate."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.image_check import check_image
from app.engine.keyframe import MAX_IMAGE_SIDE, fit_image, load_image, placeholder_slate
from app.errors import InputError, MediaError
from app.model.act import FitMode

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
DEMO_PHOTOS = sorted(DEMO.glob("*.jpg"))


def _write_png(path: Path, pixels: np.ndarray) -> Path:
    ok, encoded = cv2.imencode(".png", pixels)
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


# --- load_image -------------------------------------------------------------------------------------


def test_demo_photos_load_as_rgb() -> None:
    assert len(DEMO_PHOTOS) >= 2
    for photo in DEMO_PHOTOS:
        image = load_image(photo)
        reference = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)  # type: ignore[arg-type]
        assert image.dtype == np.uint8 and image.flags.c_contiguous
        np.testing.assert_array_equal(image, reference)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("picture.png", b"this is not a picture\n", "not an image: text data"),
        ("page.jpg", b"<!DOCTYPE html>\n<html></html>", "not an image: an HTML page"),
        ("sheet.png", b"%PDF-1.7\n", "not an image: a PDF document"),
        ("clip.jpg", b"\x00\x00\x00\x18ftypisom\x00\x00", "not an image: a video"),
        ("photo.jpg", b"\x00\x00\x00\x18ftypheic\x00\x00", "HEIC/AVIF photo"),
        ("noise.png", bytes(range(256)), "not an image: unknown data"),
        ("empty.jpg", b"", "empty file"),
        ("cut.jpg", (DEMO_PHOTOS[0].read_bytes()[:4000]), "truncated JPEG"),
    ],
)
def test_bad_bytes_raise_media_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MediaError, match=expected) as caught:
        load_image(path)
    assert str(path) in str(caught.value)


def test_missing_file_and_folder_raise_media_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jpg"
    with pytest.raises(MediaError, match="not found") as caught:
        load_image(missing)
    assert str(missing) in str(caught.value)
    with pytest.raises(MediaError, match="folder") as caught:
        load_image(tmp_path)
    assert str(tmp_path) in str(caught.value)


@pytest.mark.parametrize("keep_fraction", [0.02, 0.5, 0.99])
def test_truncated_jpeg_raises_media_error(tmp_path: Path, keep_fraction: float) -> None:
    data = DEMO_PHOTOS[0].read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    with pytest.raises(MediaError) as caught:
        load_image(path)
    assert str(path) in str(caught.value)


def test_non_ascii_path_loads(tmp_path: Path) -> None:
    folder = tmp_path / "Сцена 東京"
    folder.mkdir()
    path = folder / "café.jpg"
    path.write_bytes(DEMO_PHOTOS[1].read_bytes())
    np.testing.assert_array_equal(load_image(path), load_image(DEMO_PHOTOS[1]))


def test_colour_order_is_rgb(tmp_path: Path) -> None:
    bgr = np.zeros((8, 8, 3), dtype=np.uint8)
    bgr[:, :, 2] = 255  # pure red, in OpenCV's BGR order
    image = load_image(_write_png(tmp_path / "red.png", bgr))
    assert (image[:, :, 0] == 255).all() and (image[:, :, 1:] == 0).all()


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (10, 1))
    image = load_image(_write_png(tmp_path / "grey.png", grey))
    assert image.shape == (10, 64, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], grey)


def test_alpha_is_composited_over_black(tmp_path: Path) -> None:
    bgra = np.zeros((4, 3, 4), dtype=np.uint8)
    bgra[:, :, :3] = (40, 120, 200)  # B, G, R
    bgra[:, 0, 3] = 255
    bgra[:, 1, 3] = 128
    bgra[:, 2, 3] = 0
    image = load_image(_write_png(tmp_path / "alpha.png", bgra))
    assert image.shape == (4, 3, 3)
    np.testing.assert_array_equal(image[0, 0], (200, 120, 40))
    np.testing.assert_allclose(image[0, 1], np.array((200, 120, 40)) * 128 / 255, atol=1)
    np.testing.assert_array_equal(image[0, 2], (0, 0, 0))


def test_sixteen_bit_is_scaled_to_eight_bit(tmp_path: Path) -> None:
    deep = np.zeros((2, 5, 3), dtype=np.uint16)
    deep[:, :, 1] = np.array([0, 257, 32768, 65000, 65535], dtype=np.uint16)
    image = load_image(_write_png(tmp_path / "deep.png", deep))
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image[0, :, 1], [0, 1, 128, 253, 255])


def test_absurd_sizes_are_refused(tmp_path: Path) -> None:
    # A header claiming a huge picture is refused before decoding anything.
    header = bytearray(cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))[1].tobytes())
    header[16:24] = struct.pack(">II", 40000, 30000)
    huge_png = tmp_path / "huge.png"
    huge_png.write_bytes(bytes(header))
    with pytest.raises(MediaError, match="too large: 40000×30000") as caught:
        load_image(huge_png)
    assert str(huge_png) in str(caught.value)
    # Formats without a header check are measured after decoding.
    wide_bmp = tmp_path / "wide.bmp"
    wide_bmp.write_bytes(cv2.imencode(".bmp", np.full((1, MAX_IMAGE_SIDE + 1, 3), 90, np.uint8))[1].tobytes())
    with pytest.raises(MediaError, match="px a side"):
        load_image(wide_bmp)


# --- fit_image --------------------------------------------------------------------------------------


def _corner_marked(width: int, height: int) -> np.ndarray:
    """A mid-grey picture with a differently coloured 10 % square in each corner."""
    image = np.full((height, width, 3), 128, dtype=np.uint8)
    size_x, size_y = max(1, width // 10), max(1, height // 10)
    image[:size_y, :size_x] = (255, 0, 0)
    image[:size_y, -size_x:] = (0, 255, 0)
    image[-size_y:, -size_x:] = (0, 0, 255)
    image[-size_y:, :size_x] = (255, 255, 0)
    return image


@pytest.mark.parametrize("mode", list(FitMode))
@pytest.mark.parametrize(("width", "height"), [(480, 270), (1920, 1080), (301, 557), (1, 1), (17, 3)])
def test_fit_gives_the_exact_size(mode: FitMode, width: int, height: int) -> None:
    image = load_image(DEMO_PHOTOS[1])
    fitted = fit_image(image, width, height, mode)
    assert fitted.shape == (height, width, 3)
    assert fitted.dtype == np.uint8 and fitted.flags.c_contiguous


def test_cover_fills_the_frame_with_the_centre_of_the_picture() -> None:
    # A horizontal ramp: the columns kept by a centre crop of a 2:1 picture into a square are the middle half.
    ramp = np.tile(np.linspace(0, 255, 400).astype(np.uint8)[None, :, None], (200, 1, 3))
    fitted = fit_image(ramp, 100, 100, FitMode.cover)
    assert abs(int(fitted[50, 0, 0]) - 64) <= 3
    assert abs(int(fitted[50, -1, 0]) - 191) <= 3
    assert (fitted[0] == fitted[-1]).all()  # no padding rows: every row is picture


def test_contain_keeps_the_whole_picture_on_a_darkened_backdrop() -> None:
    picture = _corner_marked(300, 100)
    fitted = fit_image(picture, 200, 200, FitMode.contain)
    # The picture becomes 200x67, centred vertically.
    top = (200 - 67) // 2
    inner = fitted[top : top + 67]
    np.testing.assert_array_equal(inner[2, 2], (255, 0, 0))
    np.testing.assert_array_equal(inner[2, -3], (0, 255, 0))
    np.testing.assert_array_equal(inner[-3, -3], (0, 0, 255))
    np.testing.assert_array_equal(inner[-3, 2], (255, 255, 0))
    # Above and below: a dark, smooth copy, not black and not the picture's own brightness.
    backdrop = np.concatenate([fitted[: top - 2], fitted[top + 69 :]])
    assert 5 < backdrop.mean() < picture.mean() * 0.7


def test_stretch_maps_corners_to_corners() -> None:
    fitted = fit_image(_corner_marked(300, 100), 120, 160, FitMode.stretch)
    np.testing.assert_array_equal(fitted[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(fitted[-1, -1], (0, 0, 255))


def test_fit_refuses_an_empty_frame() -> None:
    with pytest.raises(InputError, match="0x10"):
        fit_image(_corner_marked(10, 10), 0, 10, FitMode.cover)


# --- placeholder_slate ------------------------------------------------------------------------------


def test_slate_is_deterministic_and_depends_on_seed_and_prompt() -> None:
    first = placeholder_slate("a red fox in snow", 7, 480, 270)
    np.testing.assert_array_equal(first, placeholder_slate("a red fox in snow", 7, 480, 270))
    other_seed = placeholder_slate("a red fox in snow", 8, 480, 270)
    other_prompt = placeholder_slate("a blue whale at dawn", 7, 480, 270)
    assert np.abs(first.astype(int) - other_seed).mean() > 5  # different colours everywhere
    assert (first != other_prompt).any(axis=2).mean() > 0.005  # different words


@pytest.mark.parametrize(("width", "height"), [(1, 1), (64, 36), (160, 90), (1080, 1920), (3840, 2160)])
def test_slate_works_at_any_size(width: int, height: int) -> None:
    slate = placeholder_slate("an astronaut on a beach, golden hour, 35 mm " * 6, 3, width, height)
    assert slate.shape == (height, width, 3) and slate.dtype == np.uint8 and slate.flags.c_contiguous


def test_slate_carries_the_placeholder_label_and_text() -> None:
    slate = placeholder_slate("", 5, 1280, 720)
    banner = slate[: 720 // 8].reshape(-1, 3).astype(int)
    label_yellow = (banner[:, 0] > 200) & (banner[:, 1] > 150) & (banner[:, 2] < 120)
    assert label_yellow.sum() > 500
    middle = slate[720 // 3 : 2 * 720 // 3]
    assert (middle.min(axis=2) > 200).sum() > 500  # the "(no prompt)" words, drawn in white
    # A blank prompt and an empty one draw the same slate.
    np.testing.assert_array_equal(slate, placeholder_slate("   ", 5, 1280, 720))


# --- check_image: what the editor and `storybeat new` refuse before a file becomes a reference ------------


def test_check_image_passes_whole_images_of_every_format_and_gives_their_size(tmp_path: Path) -> None:
    picture = cv2.imread(str(DEMO_PHOTOS[1]))
    assert picture is not None
    height, width = picture.shape[:2]
    for name, params in (
        ("baseline.jpg", []),
        ("progressive.jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        ("restarts.jpg", [cv2.IMWRITE_JPEG_RST_INTERVAL, 4]),
        ("lossless.png", []),
        ("lossy.webp", []),
        ("plain.bmp", []),
    ):
        assert cv2.imwrite(str(tmp_path / name), picture, params)
        assert check_image(tmp_path / name) == (width, height), name
    # A phone's motion photo: a whole JPEG with a video after its end-of-image marker.
    motion = tmp_path / "motion.jpg"
    motion.write_bytes((tmp_path / "baseline.jpg").read_bytes() + b"\x00\x00\x00\x18ftypmp42" + bytes(4096))
    assert check_image(motion) == (width, height)


def test_check_image_refuses_cut_short_or_oversized_files_naming_them(tmp_path: Path) -> None:
    picture = cv2.imread(str(DEMO_PHOTOS[1]))
    assert picture is not None
    png = cv2.imencode(".png", picture)[1].tobytes()
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes(png[:-200])
    with pytest.raises(MediaError) as caught:
        check_image(cut_png)
    assert str(caught.value) == f"{cut_png}: truncated PNG (the file ends before the picture does)"
    huge = bytearray(png)
    huge[16:24] = struct.pack(">II", 30000, 30000)
    huge_png = tmp_path / "huge.png"
    huge_png.write_bytes(bytes(huge))
    with pytest.raises(MediaError) as caught:
        check_image(huge_png)
    assert str(caught.value) == f"{huge_png}: too large: 30000×30000 (at most {MAX_IMAGE_SIDE} px a side)"
    with pytest.raises(MediaError, match="image file not found"):
        check_image(tmp_path / "gone.jpg")
