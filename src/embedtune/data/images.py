"""Images in data files: checked once when the file is read, then carried as references.

A row's ``image`` (a path relative to the file that names it, an absolute path, or an http(s) URL)
becomes an *image reference*: a string ``"embedtune:image:<sha256>:<absolute path>"``. It stands
where a text would (a corpus document, a pair's positive), so everything keyed by text keeps
working: dev splits, the embedding cache (the content hash is in the key, so an edited image is
encoded afresh), reports. Only the encoders and the trainer's columns open the file, with
``load_image``.

Every image is opened and decoded while the data is read, so a missing, unreadable or
non-image file stops the run before the model loads, as one line naming the data file and row.
"""
from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune.cache_dir import default_cache_dir
from embedtune.errors import DataError

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_FIELDS = ("image", "image_path")
PREFIX = "embedtune:image:"
_URL_SCHEMES = ("http://", "https://")
_DOWNLOAD_TIMEOUT_S = 30


def is_image_ref(value: object) -> bool:
    """Whether ``value`` is an image reference (rather than a text)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def is_image(value: object) -> bool:
    """Whether ``value`` is an image to encode: a reference, or an already decoded image (as ``serve`` receives)."""
    if isinstance(value, str):
        return value.startswith(PREFIX)
    try:
        from PIL.Image import Image as PILImage
    except ImportError:  # pragma: no cover - Pillow comes with sentence-transformers
        return False
    return isinstance(value, PILImage)


def image_path(ref: str) -> Path:
    """The file an image reference points to."""
    return Path(ref[len(PREFIX):].split(":", 1)[1])


def shown(value: str) -> str:
    """How a document is shown to a person: its text, or ``image: <path>`` for an image reference."""
    return f"image: {image_path(value)}" if is_image_ref(value) else value


def has_images(values: Any) -> bool:
    """Whether any of ``values`` (texts, image references or decoded images) is an image."""
    return any(is_image(v) for v in values)


def load_image(ref: str | Image) -> Image:
    """The referenced image (or the image itself), as RGB (what CLIP-style image processors expect)."""
    from PIL import Image as PILImage

    if not isinstance(ref, str):
        return ref if ref.mode == "RGB" else ref.convert("RGB")
    with PILImage.open(image_path(ref)) as image:
        return image.convert("RGB")


def decode_image(data: bytes) -> Image:
    """Image file bytes (PNG, JPEG, ...) decoded as RGB; ValueError when they are not an image."""
    import io

    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not an image file Pillow can read ({exc})") from None


def row_image(data_file: Path, line: int, row: dict[str, Any]) -> str | None:
    """The checked reference of the image a row names under one of ``IMAGE_FIELDS``; None for a text row."""
    field = next((f for f in IMAGE_FIELDS if f in row), None)
    return None if field is None else image_ref(data_file, line, row[field], field)


def image_ref(data_file: Path, line: int, value: object, field: str = "image") -> str:
    """Check the image a row names and return its reference; any problem is a DataError at that row.

    Relative paths are relative to the folder of ``data_file`` (so a data folder can be moved whole).
    """
    if not isinstance(value, str) or not value.strip():
        raise DataError(data_file, f'field "{field}" must be a non-empty string (a path or URL), '
                                   f"got {type(value).__name__ if not isinstance(value, str) else 'an empty string'}",
                        line)
    value = value.strip()
    path = _download(data_file, line, value) if value.startswith(_URL_SCHEMES) else (
        Path(value) if Path(value).is_absolute() else data_file.parent / value)
    if not path.is_file():
        raise DataError(data_file, f'image "{value}" not found ({path})', line)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise DataError(data_file, f'image "{value}" cannot be read ({exc.strerror or exc})', line) from None
    _verify(data_file, line, value, content)
    return f"{PREFIX}{hashlib.sha256(content).hexdigest()}:{path.resolve()}"


def _verify(data_file: Path, line: int, value: str, content: bytes) -> None:
    """Decode the bytes just read (hashed too: the file is read once), so a truncated or damaged image
    fails here, not mid-training."""
    import io

    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(content)) as image:
            image.load()
    except UnidentifiedImageError:
        raise DataError(data_file, f'"{value}" is not an image file Pillow can read', line) from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or damaged data (Pillow raises all three)
        raise DataError(data_file, f'image "{value}" is damaged ({exc})', line) from None


def _download(data_file: Path, line: int, url: str) -> Path:
    """Fetch an image URL once into the cache folder (``$EMBEDTUNE_CACHE_DIR/images``); a failure is a DataError."""
    folder = default_cache_dir() / "images"
    target = folder / hashlib.sha256(url.encode()).hexdigest()
    if target.is_file():
        return target
    try:
        with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (http(s) only)
            content = response.read()
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(data_file, f'image URL "{url}" could not be downloaded ({reason}); '
                                   "download the images and give their paths instead", line) from None
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(content)
    os.replace(partial, target)
    return target
