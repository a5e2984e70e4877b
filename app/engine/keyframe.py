"""The keyframe stage: reference images loaded and fitted to the frame, or a labelled placeholder slate.

Every function returns (H, W, 3) uint8 RGB, C-contiguous. Sizes are in pixels.
"""

from __future__ import annotations

import textwrap
import unicodedata
from pathlib import Path

import cv2
import numpy as np

from app.engine.image_check import MAX_IMAGE_SIDE, read_image_file
from app.errors import InputError, MediaError
from app.model.act import FitMode

_JPEG_SIGNATURE = b"\xff\xd8"

# The contain-fit backdrop: blurred at a small size (the blur hides the resolution), then darkened so the
# real picture stands out in front of it.
_BACKDROP_SHRINK = 8
_BACKDROP_BLUR_SIGMA = 2.5
_BACKDROP_BRIGHTNESS = 0.45

# Longest first; the short one is for thumbnails. OpenCV 4's Hershey fonts are ASCII only, hence no em dash.
_SLATE_LABELS = ("PLACEHOLDER - no image model", "PLACEHOLDER")
_PUT_TEXT_DRAWS_UNICODE = int(cv2.__version__.split(".")[0]) >= 5
_SLATE_FONT = cv2.FONT_HERSHEY_SIMPLEX
_SLATE_MIN_FONT_SCALE = 0.28  # about 6 px capitals: anything smaller is not legible, so it is skipped


def _to_rgb8(decoded: np.ndarray, path: Path) -> np.ndarray:
    """Convert what cv2.imdecode(IMREAD_UNCHANGED) returns (grey/BGR/BGRA, 8/16-bit or float) to RGB uint8."""
    if decoded.dtype == np.uint16:
        decoded = ((decoded.astype(np.float32) + 128.0) / 257.0).astype(np.uint8)
    elif decoded.dtype in (np.float32, np.float64):
        decoded = np.round(np.clip(np.nan_to_num(decoded), 0.0, 1.0) * 255.0).astype(np.uint8)
    elif decoded.dtype != np.uint8:
        raise MediaError(f"{path}: unsupported pixel type {decoded.dtype} (expected 8- or 16-bit samples)")
    channels = 1 if decoded.ndim == 2 else decoded.shape[2]
    if channels == 1:
        return cv2.cvtColor(decoded.reshape(decoded.shape[:2]), cv2.COLOR_GRAY2RGB)
    if channels == 3:
        return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    if channels in (2, 4):
        # Composite over black: a transparent area reads as "nothing here", not as a colour.
        colour = decoded[:, :, :1] if channels == 2 else decoded[:, :, :3]
        alpha = decoded[:, :, -1:].astype(np.float32) / 255.0
        composited = np.round(colour.astype(np.float32) * alpha).astype(np.uint8)
        code = cv2.COLOR_GRAY2RGB if channels == 2 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(np.ascontiguousarray(composited), code)
    raise MediaError(f"{path}: unsupported image with {channels} channels")


def load_image(path: Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    Grey and 16-bit images are converted, alpha is composited over black, and JPEGs are turned upright
    according to their EXIF orientation. Raises MediaError naming `path` when the file is missing,
    unreadable, not an image (saying what it is instead), cut short, not decodable, or larger than
    MAX_IMAGE_SIDE pixels on a side (app.engine.image_check's words).
    """
    data = read_image_file(path)
    # JPEGs have neither alpha nor 16-bit samples, and a colour decode applies their EXIF orientation
    # (phone photos depend on it); other formats keep everything so alpha and depth are handled below.
    is_jpeg = data.startswith(_JPEG_SIGNATURE)
    flags = cv2.IMREAD_COLOR if is_jpeg else cv2.IMREAD_UNCHANGED
    try:
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error:
        decoded = None
    if decoded is None or decoded.size == 0:
        raise MediaError(f"{path}: damaged image (could not decode it)")
    height, width = decoded.shape[:2]
    if max(height, width) > MAX_IMAGE_SIDE:
        raise MediaError(f"{path}: too large: {width}×{height} (at most {MAX_IMAGE_SIDE} px a side)")
    rgb = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) if is_jpeg else _to_rgb8(decoded, path)
    return np.ascontiguousarray(rgb)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to exactly (width, height): area averaging to shrink (no aliasing), cubic to enlarge."""
    if image.shape[1] == width and image.shape[0] == height:
        return image.copy()
    shrinking = width * height < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation)


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to fill (width, height), cropping the overflow around the centre."""
    source_height, source_width = image.shape[:2]
    scale = max(width / source_width, height / source_height)
    # Crop in source pixels first so that one resize does the rest.
    crop_width = min(source_width, max(1, round(width / scale)))
    crop_height = min(source_height, max(1, round(height / scale)))
    left = (source_width - crop_width) // 2
    top = (source_height - crop_height) // 2
    return _resize(image[top : top + crop_height, left : left + crop_width], width, height)


def _contain(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to fit inside (width, height), on a blurred, darkened cover-fit copy of the same picture."""
    source_height, source_width = image.shape[:2]
    scale = min(width / source_width, height / source_height)
    inner_width = min(width, max(1, round(source_width * scale)))
    inner_height = min(height, max(1, round(source_height * scale)))
    small = _cover(image, max(1, width // _BACKDROP_SHRINK), max(1, height // _BACKDROP_SHRINK))
    small = cv2.GaussianBlur(small, (0, 0), _BACKDROP_BLUR_SIGMA, borderType=cv2.BORDER_REFLECT)
    small = cv2.convertScaleAbs(small, alpha=_BACKDROP_BRIGHTNESS)
    canvas = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    left = (width - inner_width) // 2
    top = (height - inner_height) // 2
    canvas[top : top + inner_height, left : left + inner_width] = _resize(image, inner_width, inner_height)
    return canvas


def fit_image(image: np.ndarray, width: int, height: int, mode: FitMode) -> np.ndarray:
    """Fit an (h, w, 3) uint8 RGB image to exactly (height, width, 3), a new array.

    cover: scale to fill and crop the centre; contain: scale to fit, padded with a blurred, darkened
    cover-fit copy of the image; stretch: ignore the aspect ratio. Raises InputError for a size below 1 px.
    """
    if width < 1 or height < 1:
        raise InputError(f"frame size {width}x{height}: width and height must be at least 1 px")
    if mode is FitMode.cover:
        return _cover(image, width, height)
    if mode is FitMode.contain:
        return _contain(image, width, height)
    return _resize(image, width, height)


def _slate_gradient(seed: int, width: int, height: int) -> np.ndarray:
    """A smooth two-colour gradient at a seeded angle with a soft vignette, as (height, width, 3) uint8."""
    rng = np.random.default_rng(seed)
    hue = rng.uniform(0.0, 180.0)  # OpenCV's 8-bit hue range
    hue_shift = rng.uniform(30.0, 70.0)
    # Dark, moderately saturated colours keep white text readable on every seed.
    hsv = np.array(
        [
            [
                [hue, rng.uniform(120, 200), rng.uniform(70, 110)],
                [(hue + hue_shift) % 180, rng.uniform(120, 200), 40],
            ]
        ],
        dtype=np.float32,
    ).round()
    start, end = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0].astype(np.float32)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    # The gradient is smooth, so it is computed on a small grid and enlarged: 4K slates cost no more.
    grid_width, grid_height = min(width, 160), min(height, 90)
    xs = np.linspace(-0.5, 0.5, grid_width, dtype=np.float32)[None, :]
    ys = np.linspace(-0.5, 0.5, grid_height, dtype=np.float32)[:, None] * (height / width)
    along = np.clip(np.cos(angle) * xs + np.sin(angle) * ys + 0.5, 0.0, 1.0)[:, :, None]
    vignette = 1.0 - 0.6 * (xs * xs + ys * ys)[:, :, None]
    small = (start * (1.0 - along) + end * along) * vignette
    small_rgb = np.clip(small, 0.0, 255.0).astype(np.uint8)
    return cv2.resize(small_rgb, (width, height), interpolation=cv2.INTER_LINEAR)


def _drawable_prompt(prompt: str) -> str:
    """The prompt as putText can draw it: OpenCV 5 renders Unicode; 4.x Hershey fonts need ASCII."""
    if not prompt.strip():
        return "(no prompt)"
    if _PUT_TEXT_DRAWS_UNICODE:
        return " ".join(prompt.split())
    folded = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode("ascii")
    words = " ".join(folded.split())
    return words if any(ch.isalnum() for ch in words) else "(prompt not drawable: non-Latin script)"


def _draw_text(
    canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour: tuple[int, int, int]
) -> None:
    """Draw `text` with its baseline at `origin`, on a dark drop shadow so it reads on any background."""
    thickness = max(1, round(scale * 2.0))
    shadow = max(1, round(scale * 2.5))
    x, y = origin
    # Same thickness as the text: OpenCV 5 picks a heavier, wider font weight for thicker strokes.
    cv2.putText(canvas, text, (x + shadow, y + shadow), _SLATE_FONT, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    cv2.putText(canvas, text, (x, y), _SLATE_FONT, scale, colour, thickness, cv2.LINE_AA)


def _text_width(text: str, scale: float) -> int:
    (width, _), _ = cv2.getTextSize(text, _SLATE_FONT, scale, max(1, round(scale * 2.0)))
    return int(width)


def _wrap(text: str, scale: float, max_width: int) -> list[str]:
    """Greedy word wrap to `max_width` pixels; words longer than a line are split."""
    # Average glyph width of this font is about 20 px at scale 1; start from that and tighten by measuring.
    columns = max(1, int(max_width / (20.0 * scale)))
    lines = textwrap.wrap(text, width=columns, break_long_words=True) or [text]
    while columns > 1 and any(_text_width(line, scale) > max_width for line in lines):
        columns -= 1
        lines = textwrap.wrap(text, width=columns, break_long_words=True)
    return lines


def _draw_label(canvas: np.ndarray, text_size: float, margin: int) -> int:
    """Draw the placeholder banner across the top; returns the banner's bottom row (0 when nothing fits)."""
    height, width = canvas.shape[:2]
    for label in _SLATE_LABELS:
        scale = min(
            max(text_size / 900.0, _SLATE_MIN_FONT_SCALE), (width - 2 * margin) / _text_width(label, 1.0)
        )
        label_height = int(30 * scale)
        band_bottom = margin // 2 + label_height + max(2, label_height // 2)
        if scale >= _SLATE_MIN_FONT_SCALE and band_bottom <= 0.4 * height:
            canvas[:band_bottom] = (canvas[:band_bottom] * 0.35).astype(np.uint8)
            _draw_text(canvas, label, (margin, margin // 2 + label_height), scale, (255, 214, 64))
            return band_bottom
    return 0


def _draw_prompt(canvas: np.ndarray, prompt: str, text_size: float, margin: int, top: int) -> None:
    """Draw the prompt wrapped and centred below row `top`, ending in "..." when it does not all fit."""
    height, width = canvas.shape[:2]
    usable_width = width - 2 * margin
    scale = max(text_size / 600.0, _SLATE_MIN_FONT_SCALE)
    line_height = int(42 * scale)
    available_lines = (height - top - margin) // line_height
    if available_lines < 1 or _text_width("Wo", scale) > usable_width:
        return
    lines = _wrap(_drawable_prompt(prompt), scale, usable_width)
    if len(lines) > available_lines:
        lines = lines[:available_lines]
        last = lines[-1]
        while len(last) > 1 and _text_width(last + "...", scale) > usable_width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "..."
    block_top = top + (height - top - len(lines) * line_height) // 2
    for number, line in enumerate(lines):
        baseline = block_top + (number + 1) * line_height - line_height // 4
        left = max(margin, (width - _text_width(line, scale)) // 2)
        _draw_text(canvas, line, (left, baseline), scale, (245, 245, 245))


def placeholder_slate(prompt: str, seed: int, width: int, height: int) -> np.ndarray:
    """A labelled stand-in keyframe for an act without images or an image model: (height, width, 3) uint8 RGB.

    A gradient whose colours and angle come from `seed`, the prompt wrapped across the middle, and a
    "PLACEHOLDER - no image model" banner on top (just "PLACEHOLDER" on thumbnails). Deterministic for
    (prompt, seed, width, height); text too small to read at this size is left out, never drawn illegibly.
    """
    if width < 1 or height < 1:
        raise InputError(f"frame size {width}x{height}: width and height must be at least 1 px")
    canvas = _slate_gradient(seed, width, height)
    margin = max(1, width // 32)
    # Text scales with the frame's height, or with its width for portrait frames (as if 16:9).
    text_size = min(height, width * 9 / 16)
    label_bottom = _draw_label(canvas, text_size, margin)
    _draw_prompt(canvas, prompt, text_size, margin, label_bottom)
    return canvas
