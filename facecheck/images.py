"""Decoding images from files or bytes into RGB uint8 arrays, with clear errors.

Everything that reads an image (training, evaluation, the scan command, the server) goes through
`load_image`, so a corrupt file, a text file, a decompression bomb or a CMYK JPEG is handled once,
the same way everywhere. `image_size` reads only the header: the server weighs every upload
against its pixel budgets with it before decoding any of them.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# A photo bigger than this is refused before its pixels are decoded (decompression bombs).
MAX_PIXELS = 40_000_000
# Smaller than this on either side cannot hold a face worth judging.
MIN_SIDE = 16
# The most bytes a picture file may have, wherever one is read from a source that is not trusted:
# the server's default request body, and a picture a reports CSV names (facecheck/reports.py).
MAX_FILE_BYTES = 64 * 1024 * 1024
# Longer than this on a side is refused too, however few its pixels: the face detector searches
# a square of the longer side, so a 50,000 x 800 strip (within MAX_PIXELS) would cost it gigabytes.
MAX_SIDE = 8192

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def error_result(reason: str | ImageError) -> dict:
    """The result for an image that could not be judged (scan rows and server answers alike): the
    verdict is the ImageError's own ("too-small" for a picture under MIN_SIDE), else "error"."""
    verdict = reason.verdict if isinstance(reason, ImageError) else "error"
    return {"faces": [], "p_fake": None, "verdict": verdict, "error": str(reason)}


class ImageError(ValueError):
    """An image that cannot be used, with a reason a person can read."""

    verdict = "error"


class ImageTooSmall(ImageError):
    """A readable picture smaller than MIN_SIDE on a side: too small to judge, not unreadable."""

    verdict = "too-small"


def decode_error_reason(e: Exception) -> str:
    """A decoder's exception in plain words: PIL's own texts ("Truncated File Read", "image file is
    truncated (33 bytes not processed)", ...) mean nothing to a person. The CLI, the server and
    training all show these words, since all of them decode through load_image."""
    if isinstance(e, UnidentifiedImageError):
        return "not an image (unrecognised format)"
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return "image too large (decompression bomb guard)"
    return "corrupt or truncated image: the file is damaged or cut short"


# What a decoder raises for a file it cannot read (UnidentifiedImageError is an OSError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                  Image.DecompressionBombWarning)


@contextmanager
def _bomb_guard() -> Iterator[None]:
    """Pillow's decompression-bomb warning (over Image.MAX_IMAGE_PIXELS) raised as an error, so
    the header probe and the decoder refuse the same images."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the image's header, without decoding its pixels: Image.open is lazy and
    reads only the header. Under the same decompression-bomb guard as load_image (Pillow's, a
    warning made an error). Raises ImageError for anything that is not a readable image header."""
    if not data:
        raise ImageError("empty file")
    try:
        with _bomb_guard(), Image.open(io.BytesIO(data)) as img:
            w, h = img.size
    except _DECODE_ERRORS as e:
        raise ImageError(decode_error_reason(e)) from None
    return int(w), int(h)


def check_pixels(size: tuple[int, int], max_pixels: int, max_side: int = MAX_SIDE) -> None:
    """Raise ImageError when an image of this (width, height) is over `max_pixels`, or longer than
    `max_side` on a side."""
    w, h = size
    if w * h > max_pixels:
        raise ImageError(f"image too large: {w}x{h} pixels (limit {max_pixels:,})")
    if max(w, h) > max_side:
        raise ImageError(f"image too long: {w}x{h} pixels (at most {max_side:,} px on a side)")


def load_image(source: str | os.PathLike | bytes, max_pixels: int = MAX_PIXELS,
               max_side: int = MAX_SIDE) -> np.ndarray:
    """Decode `source` (a path or the file's bytes) to an HxWx3 uint8 RGB array.

    Applies the EXIF orientation, flattens transparency onto white, converts CMYK, grayscale,
    palette and 16-bit images to 8-bit RGB, and takes the first frame of an animation.
    Raises ImageError with a readable reason for anything it cannot decode; an image over
    `max_pixels`, or longer than `max_side` on a side, is refused from its header, before any
    pixel is decoded.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise ImageError(f"cannot read file: {e.strerror or e}") from None
    if not data:
        raise ImageError("empty file")
    try:
        with _bomb_guard():
            img = Image.open(io.BytesIO(data))
            check_pixels(img.size, max_pixels, max_side)
            img.seek(0)
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
    except ImageError:
        raise
    except _DECODE_ERRORS as e:
        raise ImageError(decode_error_reason(e)) from None
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise ImageTooSmall(f"image too small: {rgb.shape[1]}x{rgb.shape[0]} pixels "
                            f"(smaller than {MIN_SIDE} px on a side)")
    return rgb


def _to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits instead of clipping (PIL's convert("L") clips).
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def iter_image_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Every file under the given files and folders (recursive), sorted within each folder.

    Files named explicitly are kept whatever their extension; inside folders, files with an
    image extension are kept, so a stray `.txt` named `.jpg` is still reported, not skipped.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                f for f in sorted(p.rglob("*"))
                if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
            )
        else:
            out.append(p)
    return out
