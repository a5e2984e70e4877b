"""Checking an image file before it becomes a reference: cheap, and one clear line when it cannot be used.

`check_image(path)` reads the file once and looks at its bytes, without decoding a JPEG's or PNG's pixels:
- what it is, from its first bytes: JPEG, PNG, WebP, BMP or TIFF (what the renderer decodes); or, named
  for the user, text (an HTML page or any other text), a PDF, an SVG drawing, a GIF, a HEIC/AVIF photo, a
  video, or unknown data;
- the size its header declares (JPEG, PNG, WebP, BMP), refused past MAX_IMAGE_SIDE a side before anything
  allocates for it;
- whether it is complete: a JPEG must reach its end-of-image marker after its last scan, a PNG its IEND
  chunk (a download cut short still decodes, with the bottom of the picture grey);
- a TIFF (no cheap structure check) is decoded at an eighth of its size.
Checking a 12-megapixel JPEG takes a few milliseconds (reading the file and one regular-expression pass
over it) against ~100 ms to decode it, so a handful of files can be checked on the GUI thread.

`image_problem(data)` is the same check on bytes already read (app.engine.keyframe.load_image uses it, so a
render that fails on a reference says the same thing). Messages, after "<path>: ": "not an image: text
data", "not an image: an HTML page", "truncated JPEG (the file ends before the picture does)",
"too large: 30000×30000 (at most 16384 px a side)", "empty file, expected an image".
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import cv2
import numpy as np

from app.errors import MediaError

#: Larger images are refused: decoding one would take gigabytes and no frame size needs it.
MAX_IMAGE_SIDE = 16384

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8"
# JPEG start-of-frame markers carry the image size; C4, C8 and CC share the range but are other tables.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA
# Inside a scan's entropy-coded data, 0xFF is followed by 0x00 (a stuffed byte), a restart marker (D0–D7)
# or another 0xFF (fill); anything else is the next marker.
_MARKER_IN_SCAN = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
_TEXT_SAMPLE = 1024  # bytes looked at to tell text from binary data
_PRINTABLE_SHARE = 0.95


def check_image(path: Path) -> tuple[int, int]:
    """(width, height) of the image at `path` when the renderer can use it (module doc; a TIFF's to the
    nearest 8 px); else MediaError with one line naming the file and what is wrong with it."""
    data = read_image_file(path)
    size = declared_image_size(data)
    if size is not None:
        return size
    try:  # formats without a cheap structure check (TIFF): decode at an eighth of the size
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    except cv2.error:
        decoded = None
    if decoded is None or decoded.size == 0:
        raise MediaError(f"{path}: damaged {_format_name(data)} (could not decode it)")
    return decoded.shape[1] * 8, decoded.shape[0] * 8


def read_image_file(path: Path) -> bytes:
    """The bytes of the image file at `path` once the checks without decoding pass (`image_problem`);
    else MediaError with one line naming the file: missing, a folder, unreadable, or not a usable image."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MediaError(f"{path}: image file not found") from None
    except IsADirectoryError:
        raise MediaError(f"{path}: is a folder, expected an image file") from None
    except OSError as error:
        raise MediaError(f"{path}: cannot read image ({error.strerror or error})") from None
    problem = image_problem(data)
    if problem is not None:
        raise MediaError(f"{path}: {problem}")
    return data


def image_problem(data: bytes) -> str | None:
    """What makes `data` (a whole file) unusable as an image, in a few words (module doc); None when the
    checks without decoding find nothing wrong."""
    if not data:
        return "empty file, expected an image"
    kind = _format_name(data)
    if kind is None:
        return f"not an image: {_what_it_is(data)}"
    size = declared_image_size(data)
    if size is not None and max(size) > MAX_IMAGE_SIDE:
        return f"too large: {size[0]}×{size[1]} (at most {MAX_IMAGE_SIDE} px a side)"
    if size is not None and min(size) == 0:
        return f"damaged {kind} (its header gives a size of {size[0]}×{size[1]})"
    if kind == "JPEG" and not _jpeg_complete(data):
        return "truncated JPEG (the file ends before the picture does)"
    if kind == "PNG" and not _png_complete(data):
        return "truncated PNG (the file ends before the picture does)"
    return None


def declared_image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, WebP or BMP header, read before decoding; None for other formats
    or a header cut short."""
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(_JPEG_SIGNATURE):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)  # a negative height is a top-down bitmap
    return None


def _format_name(data: bytes) -> str | None:
    """The image format the renderer decodes that `data` starts as, or None."""
    if data.startswith(_JPEG_SIGNATURE + b"\xff"):
        return "JPEG"
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def _what_it_is(data: bytes) -> str:
    """A few words for what a file that is not a usable image holds."""
    head = data[:_TEXT_SAMPLE]
    lowered = head.lstrip().lower()
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF (convert it to PNG)"
    brand = head[8:12] if head[4:8] == b"ftyp" else b""
    if brand in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif"):
        return "a HEIC/AVIF photo (convert it to JPEG or PNG)"
    if brand:
        return "a video"
    if b"<svg" in lowered and lowered.startswith((b"<svg", b"<?xml")):
        return "an SVG drawing (export it as PNG)"
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if _is_text(head):
        return "text data"
    return f"unknown data (starting {head[:4].hex(' ')})"


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    text = head.decode("utf-8", errors="ignore")  # a character cut at the sample's end is dropped
    printable = sum(1 for character in text if character.isprintable() or character in "\t\r\n\f")
    return bool(text) and printable >= _PRINTABLE_SHARE * len(text)


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(marker, position) of the JPEG's markers in order, up to its end-of-image marker (when there is one)
    or up to where the data runs out or stops making sense. A scan's entropy-coded data is skipped to the
    marker after it."""
    found: list[tuple[int, int]] = []
    position = 2
    while position + 2 <= len(data):
        if data[position] != 0xFF:
            return found
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        found.append((marker, position))
        if marker == _JPEG_EOI:
            return found
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # restart markers and TEM have no length
            position += 2
            continue
        if position + 4 > len(data):
            return found
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
        if marker == _JPEG_SOS:
            following = _MARKER_IN_SCAN.search(data, position)
            if following is None:
                return found
            position = following.start()
    return found


def _jpeg_complete(data: bytes) -> bool:
    """Whether the JPEG reaches its end-of-image marker after at least one scan (trailing data after it, as
    in phones' motion photos, is fine)."""
    markers = [marker for marker, _ in _jpeg_segments(data)]
    return _JPEG_SOS in markers and markers[-1] == _JPEG_EOI


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    for marker, position in _jpeg_segments(data):
        if marker in _JPEG_SOF_MARKERS and position + 9 <= len(data):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        if marker == _JPEG_SOS:
            return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def _png_complete(data: bytes) -> bool:
    """Whether the PNG's chunks run whole up to its IEND chunk."""
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length  # length, type, data, CRC
        if end > len(data):
            return False
        if kind == b"IEND":
            return True
        position = end
    return False
