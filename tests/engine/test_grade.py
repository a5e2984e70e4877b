"""The colour grade: slider maths in linear light, .cube LUT parsing and application."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from app.engine.grade import CubeLut, Grader, load_cube_lut
from app.engine.keyframe import load_image
from app.errors import MediaError
from app.model.act import GradeSettings

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_image(DEMO / "03_coffee.jpg")


def _to_linear(values: np.ndarray | int) -> np.ndarray:
    encoded = np.asarray(values, dtype=np.float64) / 255.0
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def _flat(value: tuple[int, int, int], size: int = 16) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.uint8)


def _write_cube(path: Path, size: int, colour_of: Callable[..., tuple[float, ...]], header: str = "") -> Path:
    """A .cube file whose entry at input (r, g, b) in 0..1 is colour_of(r, g, b), red varying fastest."""
    ramp = np.linspace(0.0, 1.0, size)
    rows = [" ".join(f"{v:.6f}" for v in colour_of(r, g, b)) for b in ramp for g in ramp for r in ramp]
    path.write_text(f"{header}LUT_3D_SIZE {size}\n" + "\n".join(rows) + "\n")
    return path


# --- sliders ----------------------------------------------------------------------------------------


def test_neutral_grade_returns_the_frame_untouched(photo: np.ndarray) -> None:
    grader = Grader(GradeSettings())
    assert grader.is_identity
    assert grader(photo) is photo


def test_exposure_is_measured_in_stops_of_linear_light() -> None:
    mid_grey = _flat((118, 118, 118))
    brighter = Grader(GradeSettings(exposure=1.0))(mid_grey)
    darker = Grader(GradeSettings(exposure=-1.0))(mid_grey)
    assert _to_linear(brighter[0, 0, 0]) / _to_linear(118) == pytest.approx(2.0, rel=0.03)
    assert _to_linear(darker[0, 0, 0]) / _to_linear(118) == pytest.approx(0.5, rel=0.03)


def test_contrast_pivots_on_mid_grey_and_spreads_the_rest() -> None:
    ramp = np.tile(np.arange(20, 236, dtype=np.uint8)[None, :, None], (4, 1, 3))
    punchy = Grader(GradeSettings(contrast=1.5))(ramp)
    flat = Grader(GradeSettings(contrast=0.5))(ramp)
    mid_grey = 118  # 18 % grey in linear light, sRGB-encoded
    column = mid_grey - 20
    assert abs(int(punchy[0, column, 0]) - mid_grey) <= 1 and abs(int(flat[0, column, 0]) - mid_grey) <= 1
    assert punchy[..., 0].std() > ramp[..., 0].std() > flat[..., 0].std()
    assert (np.diff(punchy[0, :, 0].astype(int)) >= 0).all()  # still monotonic: no tone reversals


def test_zero_saturation_is_grey_and_more_saturation_is_more_colourful(photo: np.ndarray) -> None:
    grey = Grader(GradeSettings(saturation=0.0))(photo)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    luma = photo.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    assert np.abs(grey[..., 0] - luma).max() <= 1.0
    vivid = Grader(GradeSettings(saturation=2.0))(photo)
    assert np.ptp(vivid.astype(int), axis=2).mean() > 1.5 * np.ptp(photo.astype(int), axis=2).mean()


def test_temperature_moves_the_red_blue_balance(photo: np.ndarray) -> None:
    def red_over_blue(frame: np.ndarray) -> float:
        return float(frame[..., 0].astype(float).mean() / frame[..., 2].astype(float).mean())

    neutral = _flat((128, 128, 128))
    warm = Grader(GradeSettings(temperature=0.6))
    cool = Grader(GradeSettings(temperature=-0.6))
    assert red_over_blue(warm(neutral)) > 1.05 and red_over_blue(cool(neutral)) < 0.95
    assert red_over_blue(warm(photo)) > red_over_blue(photo) > red_over_blue(cool(photo))
    assert abs(int(warm(neutral)[0, 0, 1]) - 128) <= 1  # green, and so the overall level, stays put


def test_grade_output_is_a_frame(photo: np.ndarray) -> None:
    graded = Grader(GradeSettings(exposure=0.3, contrast=1.2, saturation=1.4, temperature=0.2))(photo)
    assert graded.shape == photo.shape and graded.dtype == np.uint8 and graded.flags.c_contiguous


# --- LUTs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 17, 33])
def test_identity_lut_leaves_frames_unchanged(photo: np.ndarray, size: int) -> None:
    graded = Grader(GradeSettings(), CubeLut.identity(size))(photo)
    assert np.abs(graded.astype(int) - photo).max() <= 1


def test_inverting_lut_from_a_cube_file_inverts(tmp_path: Path, photo: np.ndarray) -> None:
    header = '# made by a test\nTITLE "Invert"\n\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\n'
    lut = load_cube_lut(
        _write_cube(tmp_path / "invert.cube", 9, lambda r, g, b: (1 - r, 1 - g, 1 - b), header)
    )
    assert lut.title == "Invert" and lut.size == 9
    graded = Grader(GradeSettings(), lut)(photo)
    assert np.abs(graded.astype(int) - (255 - photo.astype(int))).max() <= 1


def test_lut_rows_run_red_fastest(tmp_path: Path, photo: np.ndarray) -> None:
    # A LUT that swaps red and blue only works out if the row order is read the right way round.
    lut = load_cube_lut(_write_cube(tmp_path / "swap.cube", 5, lambda r, g, b: (b, g, r)))
    graded = Grader(GradeSettings(), lut)(photo)
    assert np.abs(graded.astype(int) - photo[..., ::-1]).max() <= 1


def test_lut_domain_scales_the_input(tmp_path: Path) -> None:
    # Over DOMAIN 0..2, a table holding its own input coordinates is the identity up to 1.0.
    lut = load_cube_lut(
        _write_cube(
            tmp_path / "wide.cube", 5, lambda r, g, b: (2 * r, 2 * g, 2 * b), "LUT_3D_INPUT_RANGE 0 2\n"
        )
    )
    ramp = np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (2, 1, 3))
    assert np.abs(Grader(GradeSettings(), lut)(ramp).astype(int) - ramp).max() <= 1


def test_lut_applies_after_the_sliders(tmp_path: Path, photo: np.ndarray) -> None:
    lut = load_cube_lut(_write_cube(tmp_path / "invert.cube", 9, lambda r, g, b: (1 - r, 1 - g, 1 - b)))
    settings = GradeSettings(exposure=1.0)
    graded = Grader(settings, lut)(photo)
    assert np.abs(graded.astype(int) - (255 - Grader(settings)(photo).astype(int))).max() <= 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 x\n0 1 1\n1 1 1\n", "line 7: .*not a number"),
        ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1 5\n0 1 1\n1 1 1\n", "line 7: .*3 numbers"),
        ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n", "line 4: file ends after 3 table rows"),
        ("LUT_3D_SIZE 2\n" + "0.5 0.5 0.5\n" * 9, "line 10: more than"),
        ('TITLE "x"\n0 0 0\nLUT_3D_SIZE 2\n', "line 2: table data before"),
        ('TITLE "no size"\n', "no LUT_3D_SIZE"),
        ("LUT_1D_SIZE 1024\n", "line 1: 1D LUTs are not supported"),
        ("LUT_3D_SIZE 1000\n", "line 1: LUT_3D_SIZE 1000 is outside"),
        ("LUT_3D_SIZE two\n", "line 1: LUT_3D_SIZE needs one whole number"),
        ("DOMAIN_MIN 0 0\nLUT_3D_SIZE 2\n", "line 1: DOMAIN_MIN needs 3 numbers"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 8 + "DOMAIN_MAX 1 1 1\n", "line 10: keyword DOMAIN_MAX after"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 3 + "nan 0 0\n" + "0 0 0\n" * 4, "line 5: .*not finite"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 3 + "0 0\n" + "0 0 0\n" * 4, "line 5: .*3 numbers, found 2"),
    ],
)
def test_malformed_cube_names_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.cube"
    path.write_text(text)
    with pytest.raises(MediaError, match=message) as caught:
        load_cube_lut(path)
    assert str(path) in str(caught.value)


def test_missing_cube_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found"):
        load_cube_lut(tmp_path / "gone.cube")
