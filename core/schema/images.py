"""Reading an image file for an :class:`~llmplex.schema.messages.ImagePart`: the media type is
sniffed from the bytes (the file's name can lie), and the size is bounded before anything is read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple, Union

from ..errors import InvalidRequestError

__all__ = ["MAX_IMAGE_BYTES", "read_image", "sniff_media_type"]

#: The largest image file read by default (20 MiB: the largest any supported vendor documents
#: for an inline image; most accept less and say so in their error).
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def sniff_media_type(data: bytes) -> Optional[str]:
    """The image type the bytes' signature declares (PNG, JPEG, GIF, WebP, BMP), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM"):
        return "image/bmp"
    return None


def read_image(path: Union[str, "os.PathLike[str]"], *, max_bytes: int = MAX_IMAGE_BYTES) -> Tuple[bytes, str]:
    """The bytes and media type of the image file ``path``; InvalidRequestError when it is
    missing, larger than ``max_bytes`` or not an image."""
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise InvalidRequestError(f"image {str(file)!r} cannot be read: {exc.strerror}", field="image") from None
    if size > max_bytes:
        raise InvalidRequestError(
            f"image {str(file)!r} is {size} bytes, above the limit of {max_bytes}; shrink it or pass max_bytes=",
            field="image",
        )
    with file.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    media_type = sniff_media_type(data[:16])
    if media_type is None:
        raise InvalidRequestError(
            f"image {str(file)!r} is not a PNG, JPEG, GIF, WebP or BMP image (by its content)", field="image"
        )
    return data, media_type
