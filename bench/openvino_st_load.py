"""Does sentence-transformers' own OpenVINO backend load an ``embedtune export --format openvino-int8`` folder?

1. exports all-MiniLM-L6-v2 with ``embedtune export --format openvino-int8``, calibrated on the first
   ``--documents`` documents of a BEIR corpus;
2. in an environment with ``sentence-transformers[openvino]`` (``--st-python``, see bench/st_backends.py:
   it does not install next to embedtune's pins) loads the folder with ``backend="openvino"``, fp32 and
   the int8 file, and encodes the same texts;
3. compares: sentence-transformers' OpenVINO fp32 against the PyTorch model, and its int8 against
   embedtune's own ``--backend openvino-int8`` on the exported folder (the same model file).

    python bench/openvino_st_load.py --st-python /work/venv-stov/bin/python
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, SHARED_DATA, Results, run_step  # noqa: E402

WORKER = """
import json, sys
import numpy as np
from sentence_transformers import SentenceTransformer
out, texts, work = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
for name, kwargs in (("fp32", {}), ("int8", {"model_kwargs": {"file_name": "openvino/openvino_model_qint8_quantized.xml"}})):
    model = SentenceTransformer(out, backend="openvino", device="cpu", **kwargs)
    np.save(f"{work}/st_openvino_{name}.npy", model.encode(texts, convert_to_numpy=True))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--st-python", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "scifact")
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "openvino_st_load.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedtune-ov-st-"))
    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    with open(args.data / "corpus.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(args.documents), f)]
    (work / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    texts = [(r.get("title", "") + " " + r["text"]).strip() for r in rows[:50]]
    (work / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    out = work / "export"
    step = run_step("export", [sys.executable, "-m", "embedtune.cli.app", "export", "all-MiniLM-L6-v2", "--format",
                               "openvino-int8", "--out", str(out), "--calibration-data", str(work / "corpus.jsonl"),
                               "--json", "-", "--quiet"])
    exported = json.loads(step.pop("stdout"))
    results.record("export", {**step, "files": exported["files"], "probe_min_cosine": exported["min_cosine"],
                              "calibration_documents": len(rows)})
    step = run_step("st_openvino_load", [str(args.st_python), "-c", WORKER, str(out), str(work / "texts.json"),
                                         str(work)])
    step.pop("stdout")
    results.record("st_openvino_load", {**step, "loaded": ["fp32", "int8"]})
    results.data["summary"] = _compare(out, texts, work)
    results.save()
    print(json.dumps(results.data["summary"], indent=2))


def _compare(out: Path, texts: list[str], work: Path) -> dict:
    from sentence_transformers import SentenceTransformer

    from embedtune.inference import FastEncoder

    model = SentenceTransformer(str(out), device="cpu")
    torch_fp32 = model.encode(texts, convert_to_numpy=True)
    ours_int8 = FastEncoder(model, "openvino-int8", export_dir=out / "openvino").encode(texts)

    def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
        a, b = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (a, b))
        return round(float((a * b).sum(1).min()), 6)

    st_fp32, st_int8 = (np.load(work / f"st_openvino_{name}.npy") for name in ("fp32", "int8"))
    return {"texts": len(texts),
            "st_openvino_fp32_vs_torch_min_cosine": min_cosine(st_fp32, torch_fp32),
            "st_openvino_int8_vs_embedtune_openvino_int8_min_cosine": min_cosine(st_int8, ours_int8),
            "st_openvino_int8_vs_torch_min_cosine": min_cosine(st_int8, torch_fp32)}


if __name__ == "__main__":
    main()
