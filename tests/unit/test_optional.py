"""A missing optional package is one line that names the extra to install, for every feature that needs one.

Each case hides a package that is installed here (``sys.modules[name] = None`` makes its import
fail as if it were absent) and runs the feature's own entry, so a new import that bypasses
``embedtune._optional`` fails here.
"""
from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import pytest

from embedtune._optional import optional_imports, require
from embedtune.errors import EmbedtuneError, MissingDependencyError


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``modules`` unimportable, submodules an earlier test imported included (``from a.b import c``
    finds a cached ``a.b`` without looking at ``a``)."""
    for name in modules:
        for cached in [m for m in sys.modules if m.startswith(f"{name}.")]:
            monkeypatch.setitem(sys.modules, cached, None)
        monkeypatch.setitem(sys.modules, name, None)


def test_serve_without_fastapi(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "fastapi")
    monkeypatch.delitem(sys.modules, "embedtune.serving.server", raising=False)
    with pytest.raises(MissingDependencyError) as exc:
        importlib.import_module("embedtune.serving.server")
    assert str(exc.value) == ("embedtune serve needs fastapi, which is not installed: "
                              "pip install 'embedtune[serve]'")


def test_serve_without_uvicorn_stops_before_loading_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    from embedtune.serving.server import serve

    hide(monkeypatch, "uvicorn")
    with pytest.raises(MissingDependencyError) as exc:
        serve("no/such-model")  # a model load would raise ModelNotFoundError instead
    assert str(exc.value) == ("embedtune serve needs uvicorn, which is not installed: "
                              "pip install 'embedtune[serve]'")


def test_index_without_faiss_stops_before_encoding(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from embedtune.serving.index import build_index

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "T cells fight infection."}\n', encoding="utf-8")
    hide(monkeypatch, "faiss")
    with pytest.raises(MissingDependencyError) as exc:
        build_index("no/such-model", corpus, tmp_path / "index")
    assert str(exc.value) == ("building or searching an index needs faiss-cpu, which is not installed: "
                              "pip install 'embedtune[faiss]'")


def test_onnx_export_without_onnxruntime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from embedtune.inference.onnx_export import export_onnx

    hide(monkeypatch, "onnxruntime")
    with pytest.raises(MissingDependencyError) as exc:
        export_onnx(object(), tmp_path / "onnx")  # type: ignore[arg-type]  # fails before the model is read
    assert str(exc.value) == ("ONNX export needs onnxruntime, which is not installed: "
                              "pip install 'embedtune[onnx]'")


def test_onnx_backend_and_onnx_export_loader_without_onnxruntime(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    from embedtune.export.onnx_model import OnnxEmbedder
    from embedtune.inference.encoder import _onnx_session

    hide(monkeypatch, "onnxruntime")
    with pytest.raises(MissingDependencyError) as exc:
        _onnx_session(object(), tmp_path, int8=False)  # type: ignore[arg-type]
    assert str(exc.value) == ("--backend onnx needs onnxruntime, which is not installed: "
                              "pip install 'embedtune[onnx]'")
    with pytest.raises(MissingDependencyError) as exc:
        OnnxEmbedder(tmp_path)
    assert str(exc.value) == ("loading an ONNX export needs onnxruntime, which is not installed: "
                              "pip install 'embedtune[onnx]'")


def test_llm_generator_without_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from embedtune.generate.config import GenerateConfig
    from embedtune.generate.llm import Budget, ChatClient

    hide(monkeypatch, "requests")
    with pytest.raises(MissingDependencyError) as exc:
        ChatClient(GenerateConfig(method="llm", llm_url="http://127.0.0.1:9/v1", llm_model="fake"),
                   Budget(None, None))
    assert str(exc.value) == ("embedtune generate --method llm needs requests, which is not installed: "
                              "pip install 'embedtune[llm]'")


def test_report_without_matplotlib_warns_in_one_line_and_keeps_its_tables(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from embedtune.evaluation.report_html import render_plots

    hide(monkeypatch, "matplotlib", "matplotlib.figure")
    with caplog.at_level(logging.WARNING, logger="embedtune.evaluation.report_html"):
        assert render_plots({"metrics": {"change": {}}}) == {}
    assert caplog.messages == ["plotting the report needs matplotlib, which is not installed: "
                               "pip install 'embedtune[report]' (the report keeps its tables)"]


def test_a_package_that_is_installed_but_broken_is_not_called_missing() -> None:
    with pytest.raises(MissingDependencyError) as exc:
        with optional_imports("onnx", "ONNX export"):
            raise ImportError("libonnxruntime.so: cannot open shared object file")
    assert str(exc.value) == ("ONNX export cannot import its dependencies (libonnxruntime.so: cannot open "
                              "shared object file): pip install --upgrade 'embedtune[onnx]'")


def test_require_returns_the_module_and_raises_an_embedtune_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require("json", "none", "a feature") is sys.modules["json"]
    hide(monkeypatch, "bitsandbytes")
    with pytest.raises(EmbedtuneError) as exc:
        require("bitsandbytes", "qlora", "--strategy qlora", alternative="use --strategy lora")
    assert str(exc.value) == ("--strategy qlora needs bitsandbytes, which is not installed: "
                              "pip install 'embedtune[qlora]', or use --strategy lora")

