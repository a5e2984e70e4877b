"""The post stage's colour grade: exposure, contrast, saturation, temperature and a .cube 3D LUT.

Frames are (H, W, 3) uint8 RGB (sRGB-encoded). The sliders are folded into per-channel 256-entry tables
once per `Grader`, and a LUT is expanded once per `CubeLut` into a table with an entry for every 8-bit
colour, so grading a frame costs a table lookup, one 3x3 colour transform and, with a LUT, one gather.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import cv2
import numpy as np

from app.errors import MediaError
from app.model.act import GradeSettings

_MIN_LUT_SIZE = 2
_MAX_LUT_SIZE = 256

_MID_GREY_LINEAR = 0.18  # contrast pivots here, in linear light (≈ 46 % in sRGB)
_TEMPERATURE_STOPS = 0.25  # temperature ±1 moves red and blue this many stops in opposite directions
_REC709_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


class CubeLut:
    """A 3D colour lookup table from an Adobe/Resolve .cube file.

    `table` has shape (size, size, size, 3), float32, indexed [r, g, b] over the domain
    [domain_min, domain_max] per channel; its values are output RGB in 0..1 (clipped when applied).
    """

    def __init__(
        self,
        table: np.ndarray,
        domain_min: tuple[float, float, float] = (0.0, 0.0, 0.0),
        domain_max: tuple[float, float, float] = (1.0, 1.0, 1.0),
        title: str = "",
    ) -> None:
        size = table.shape[0]
        if table.shape != (size, size, size, 3) or not _MIN_LUT_SIZE <= size <= _MAX_LUT_SIZE:
            raise ValueError(f"LUT table: expected shape (N, N, N, 3) with 2 <= N <= 256, got {table.shape}")
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.domain_min = domain_min
        self.domain_max = domain_max
        self.title = title
        self._dense: np.ndarray | None = None
        self._dense_lock = threading.Lock()

    @property
    def size(self) -> int:
        """Grid points per axis."""
        return int(self.table.shape[0])

    @classmethod
    def identity(cls, size: int) -> CubeLut:
        """The LUT that maps every colour to itself, with `size` grid points per axis."""
        ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
        r, g, b = np.meshgrid(ramp, ramp, ramp, indexing="ij")
        return cls(np.stack([r, g, b], axis=-1), title="identity")

    def dense_table(self) -> np.ndarray:
        """The LUT sampled at every 8-bit colour: (2**24,) little-endian uint32, built on first use (64 MB).

        Entry r·65536 + g·256 + b holds the output colour as bytes (R, G, B, 0), trilinearly interpolated.
        """
        with self._dense_lock:
            if self._dense is None:
                self._dense = self._expand()
            return self._dense

    def _expand(self) -> np.ndarray:
        # Trilinear interpolation is separable: interpolating along r, then g, then b gives the same
        # result as weighting eight corners, at a fraction of the memory and time.
        positions = []
        for axis in range(3):
            span = self.domain_max[axis] - self.domain_min[axis]
            coordinate = (np.arange(256, dtype=np.float64) / 255.0 - self.domain_min[axis]) / span
            coordinate = np.clip(coordinate * (self.size - 1), 0.0, self.size - 1)
            lower = np.minimum(np.floor(coordinate).astype(np.intp), self.size - 2)
            weight = (coordinate - lower).astype(np.float32)
            positions.append((lower, weight))
        (r_lower, r_weight), (g_lower, g_weight), (b_lower, b_weight) = positions
        along_r = _lerp_axis(self.table, r_lower, r_weight, axis=0)  # (256, N, N, 3)
        along_rg = _lerp_axis(along_r, g_lower, g_weight, axis=1)  # (256, 256, N, 3)
        dense = np.zeros((256, 256, 256, 4), dtype=np.uint8)
        rows_per_chunk = 16  # bounds the float temporaries to about 50 MB
        for start in range(0, 256, rows_per_chunk):
            chunk = _lerp_axis(along_rg[start : start + rows_per_chunk], b_lower, b_weight, axis=2)
            np.clip(chunk, 0.0, 1.0, out=chunk)
            dense[start : start + rows_per_chunk, :, :, :3] = np.rint(chunk * 255.0).astype(np.uint8)
        return dense.reshape(-1).view("<u4")


def _lerp_axis(values: np.ndarray, lower: np.ndarray, weight: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of `values` along `axis` at positions lower + weight (one per output sample)."""
    shape = [1] * values.ndim
    shape[axis] = -1
    weight = weight.reshape(shape)
    below = np.take(values, lower, axis=axis)
    above = np.take(values, lower + 1, axis=axis)
    result: np.ndarray = below + (above - below) * weight
    return result


def _parse_floats(tokens: list[str], count: int, path: Path, line_number: int, what: str) -> list[float]:
    if len(tokens) != count:
        raise MediaError(f"{path}, line {line_number}: {what} needs {count} numbers, found {len(tokens)}")
    try:
        values = [float(token) for token in tokens]
    except ValueError:
        raise MediaError(f"{path}, line {line_number}: {what} has a value that is not a number") from None
    if not all(math.isfinite(value) for value in values):
        raise MediaError(f"{path}, line {line_number}: {what} has a value that is not finite")
    return values


def _is_number(token: str) -> bool:
    """Whether a line starting with `token` is a table row (nan and inf count: they are refused later)."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def _parse_table(lines: list[str], first: int, size: int, path: Path) -> np.ndarray:
    """The LUT_3D_SIZE³ rows of three numbers from lines[first:], as an (size³, 3) float32 array."""
    try:
        # numpy's C parser reads a 65³ table in a fraction of the time of a Python loop.
        rows = np.loadtxt(lines[first:], dtype=np.float32, comments="#", ndmin=2)
        if rows.shape == (size**3, 3) and np.isfinite(rows).all():
            return rows
    except ValueError:
        pass
    # Something is off: walk the lines again to name the first bad one.
    count = 0
    for line_number, raw_line in enumerate(lines[first:], start=first + 1):
        tokens = raw_line.split("#", 1)[0].split()
        if not tokens:
            continue
        if not _is_number(tokens[0]):
            raise MediaError(f"{path}, line {line_number}: keyword {tokens[0]} after the table data")
        if count == size**3:
            raise MediaError(f"{path}, line {line_number}: more than LUT_3D_SIZE³ = {size**3} table rows")
        _parse_floats(tokens, 3, path, line_number, "a table row")
        count += 1
    raise MediaError(
        f"{path}, line {len(lines)}: file ends after {count} table rows, LUT_3D_SIZE {size} needs {size**3}"
    )


def load_cube_lut(path: Path) -> CubeLut:
    """Read a 3D LUT from an Adobe/Resolve .cube file.

    Understands TITLE, LUT_3D_SIZE, DOMAIN_MIN/DOMAIN_MAX, Resolve's LUT_3D_INPUT_RANGE and # comments;
    unknown keywords before the table are skipped. 1D LUTs (LUT_1D_SIZE) are refused. Raises MediaError
    naming the file and the offending line for anything malformed.
    """
    try:
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        raise MediaError(f"{path}: LUT file not found") from None
    except OSError as error:
        raise MediaError(f"{path}: cannot read LUT ({error.strerror or error})") from None
    size = 0
    domain_min, domain_max = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    title = ""
    first_row = len(lines)
    for index, raw_line in enumerate(lines):
        line_number = index + 1
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        keyword, *arguments = line.split()
        if _is_number(keyword):
            first_row = index
            break
        if keyword == "LUT_1D_SIZE":
            raise MediaError(
                f"{path}, line {line_number}: 1D LUTs are not supported, expected a 3D .cube LUT"
            )
        if keyword == "LUT_3D_SIZE":
            if len(arguments) != 1 or not arguments[0].isdigit():
                raise MediaError(f"{path}, line {line_number}: LUT_3D_SIZE needs one whole number")
            size = int(arguments[0])
            if not _MIN_LUT_SIZE <= size <= _MAX_LUT_SIZE:
                raise MediaError(f"{path}, line {line_number}: LUT_3D_SIZE {size} is outside 2..256")
        elif keyword == "DOMAIN_MIN":
            domain_min = _parse_floats(arguments, 3, path, line_number, "DOMAIN_MIN")
        elif keyword == "DOMAIN_MAX":
            domain_max = _parse_floats(arguments, 3, path, line_number, "DOMAIN_MAX")
        elif keyword == "LUT_3D_INPUT_RANGE":
            low, high = _parse_floats(arguments, 2, path, line_number, "LUT_3D_INPUT_RANGE")
            domain_min, domain_max = [low] * 3, [high] * 3
        elif keyword == "TITLE":
            title = line[len(keyword) :].strip().strip('"')
    if size == 0 and first_row < len(lines):
        raise MediaError(f"{path}, line {first_row + 1}: table data before the LUT_3D_SIZE line")
    if size == 0:
        raise MediaError(f"{path}: no LUT_3D_SIZE line (not a 3D .cube LUT)")
    if any(low >= high for low, high in zip(domain_min, domain_max, strict=True)):
        raise MediaError(f"{path}: DOMAIN_MIN must be below DOMAIN_MAX on every channel")
    rows = _parse_table(lines, first_row, size, path)
    # .cube rows run with red fastest, then green, then blue: reshaped they index [b, g, r].
    table = rows.reshape(size, size, size, 3).transpose(2, 1, 0, 3)
    return CubeLut(
        table,
        (domain_min[0], domain_min[1], domain_min[2]),
        (domain_max[0], domain_max[1], domain_max[2]),
        title,
    )


def _srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1.0 / 2.4) - 0.055)


class Grader:
    """Applies one act's grade to frames: sliders first, then the LUT.

    `settings.lut` only names the file; the caller loads it with `load_cube_lut` and passes it as `lut`
    (so one expanded table can serve many graders). Thread-safe: calling it keeps no state.
    """

    def __init__(self, settings: GradeSettings, lut: CubeLut | None = None) -> None:
        self.settings = settings
        self.lut = lut
        self._channel_tables = self._slider_tables(settings)
        self._saturation_matrix = self._saturation(settings.saturation)

    @property
    def is_identity(self) -> bool:
        """True when grading changes nothing; then calling the grader returns its input object."""
        return self._channel_tables is None and self._saturation_matrix is None and self.lut is None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Grade an (H, W, 3) uint8 RGB frame; returns a new frame (or `frame` itself when `is_identity`)."""
        graded = frame
        if self._channel_tables is not None:
            graded = cv2.LUT(graded, self._channel_tables)
        if self._saturation_matrix is not None:
            graded = cv2.transform(graded, self._saturation_matrix)
        if self.lut is not None:
            graded = self._apply_lut(graded, self.lut)
        return graded

    @staticmethod
    def _slider_tables(settings: GradeSettings) -> np.ndarray | None:
        """Exposure, temperature and contrast as a (1, 256, 3) uint8 table per channel, or None if neutral."""
        if settings.exposure == 0.0 and settings.contrast == 1.0 and settings.temperature == 0.0:
            return None
        linear = _srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0)
        # Exposure and white balance are gains on light, so they act on linear values.
        stops = settings.exposure + np.array([1.0, 0.0, -1.0]) * _TEMPERATURE_STOPS * settings.temperature
        lit = linear[:, None] * np.exp2(stops)[None, :]
        # A power curve around mid grey is a straight slope change in log exposure, like a film curve.
        contrasted = _MID_GREY_LINEAR * np.power(lit / _MID_GREY_LINEAR, settings.contrast)
        encoded = _linear_to_srgb(np.clip(contrasted, 0.0, 1.0))
        return np.rint(encoded * 255.0).astype(np.uint8).reshape(1, 256, 3)

    @staticmethod
    def _saturation(saturation: float) -> np.ndarray | None:
        """A 3x3 matrix mixing each channel with Rec.709 luma, or None for saturation 1."""
        if saturation == 1.0:
            return None
        to_luma = np.tile(_REC709_LUMA, (3, 1))
        matrix: np.ndarray = saturation * np.eye(3, dtype=np.float32) + (1.0 - saturation) * to_luma
        return matrix.astype(np.float32)

    @staticmethod
    def _apply_lut(frame: np.ndarray, lut: CubeLut) -> np.ndarray:
        height, width = frame.shape[:2]
        # As little-endian uint32, BGRA bytes with alpha 0 read r·65536 + g·256 + b: the dense table's index.
        packed = np.zeros((height, width, 4), dtype=np.uint8)
        cv2.mixChannels([np.ascontiguousarray(frame)], [packed], [0, 2, 1, 1, 2, 0])
        looked_up = np.take(lut.dense_table(), packed.view("<u4").reshape(height, width))
        return cv2.cvtColor(looked_up.view(np.uint8).reshape(height, width, 4), cv2.COLOR_RGBA2RGB)
