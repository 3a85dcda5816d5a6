"""The bad-input catalogue: each way a command line can be wrong, and the one line the CLI answers.

Plain data, importable without pytest: ``tests/cli/test_cli_errors.py`` runs every case in a
subprocess and ``scripts/error_catalogue.py`` renders the table into README.md. In ``args``,
``message`` and ``files``, ``{tmp}`` is the case's temporary folder (the subprocess runs there)
and ``{port}`` a port another socket already holds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

Fault = Literal["no-space", "read-only"]


@dataclass(frozen=True)
class ErrorCase:
    name: str  # the pytest id
    problem: str  # what is wrong, in a few words (the README's first column)
    args: tuple[str, ...]  # after `embedtune`
    message: str  # stderr's first line after "embedtune: error: " (for exit 2, before the pointer to --help)
    files: dict[str, str | bytes] = field(default_factory=dict)  # relative path -> content; "x/" is a folder
    exit_code: int = 1
    # no-space: every fsync fails with ENOSPC, as on a full disk. read-only: the folder "locked" is
    # mode 0555; root writes there anyway, so as root the file calls under it fail with EACCES instead.
    fault: Fault | None = None
    port_in_use: bool = False  # {port} is bound by the test before the command runs
    xfail: str = ""  # why the case fails today (a bug in a file this change may not edit)

    @property
    def command(self) -> str:
        return self.args[0]


CORPUS = '{"_id": "d1", "text": "T cells fight infection."}\n{"_id": "d2", "text": "B cells make antibodies."}\n'
QUERIES = '{"_id": "q1", "text": "what do T cells do"}\n'
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\n"
PAIRS = "".join(f'{{"query": "question {i}", "positive": "answer {i}"}}\n' for i in range(3))
NOTES = "T cells fight infection in the body.\nB cells make antibodies against germs.\n"
# long enough for `generate`'s offline pairs to survive its length filters
DOCS = "".join(json.dumps({"_id": f"d{i}", "title": f"Note {i}", "text": " ".join(
    f"Sentence {j} of note {i} talks about immune cells and how they fight an infection." for j in range(4))}) + "\n"
    for i in range(4))
# an 8x8 red PNG, and a pairs row captioning it (image pairs: the text finds the image)
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08\x00\x00\x00\x08\x08\x02\x00\x00\x00Km)"
       b"\xdc\x00\x00\x00\x12IDATx\x9cc\xfc\xcf\x80\x1d0\xe1\x10\x1f\xa4\x12\x00\xcdA\x01\x0f\xe8"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
IMAGE_PAIRS = '{"text": "a red square", "image": "pics/1.png"}\n'
# a sentence-transformers folder with modules.json and config.json but no weights file
MODEL_WITHOUT_WEIGHTS = {
    "model/modules.json": json.dumps([{"idx": 0, "name": "0", "path": "",
                                       "type": "sentence_transformers.models.Transformer"}]),
    "model/config.json": json.dumps({"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 32,
                                     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                                     "vocab_size": 100}),
}
INDEX_INFO = json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2", "model_fingerprint": "0", "kind": "flat",
                         "dimension": 384, "max_seq_length": 256, "count": 2, "data": "data", "seconds": 0.1,
                         "embedtune_version": "0"})


def beir(folder: str = "data", corpus: str | bytes = CORPUS, queries: str | bytes = QUERIES,
         qrels: str | bytes = QRELS, split: str = "test") -> dict[str, str | bytes]:
    return {f"{folder}/corpus.jsonl": corpus, f"{folder}/queries.jsonl": queries, f"{folder}/qrels/{split}.tsv": qrels}


BEIR_LAYOUT = "expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv"
CORPUS_KINDS = "give a BEIR folder, a corpus .jsonl/.csv file, or a folder of .txt/.md files"
TRAIN = ("train", "--data", "{tmp}/pairs.jsonl", "--out", "{tmp}/out")

CASES: list[ErrorCase] = [
    # --- train -------------------------------------------------------------------------------------
    ErrorCase("train missing data", "--data names a file that does not exist", TRAIN,
              "{tmp}/pairs.jsonl: not found (give a BEIR folder or a .jsonl, .csv or .tsv file)"),
    ErrorCase("train wrong columns", "pairs file without a query column", TRAIN,
              '{tmp}/pairs.jsonl line 1: missing field "query" or "anchor" or "question" '
              '(fields seen: "q", "positive")',
              files={"pairs.jsonl": '{"q": "question", "positive": "answer"}\n'}),
    ErrorCase("train csv wrong columns", "CSV pairs whose header names no positive column",
              ("train", "--data", "{tmp}/pairs.csv", "--out", "{tmp}/out"),
              '{tmp}/pairs.csv line 2: missing field "positive" or "pos" or "document" or "passage" '
              '(fields seen: "query", "answer")',
              files={"pairs.csv": "query,answer\nwhat is a T cell,a white blood cell\n"}),
    ErrorCase("train empty pairs", "empty pairs file", TRAIN, "{tmp}/pairs.jsonl: no rows in the file",
              files={"pairs.jsonl": ""}),
    ErrorCase("train image missing", "an image pair naming a file that does not exist", TRAIN,
              '{tmp}/pairs.jsonl line 2: image "pics/2.png" not found ({tmp}/pics/2.png)',
              files={"pairs.jsonl": IMAGE_PAIRS + '{"text": "a blue square", "image": "pics/2.png"}\n',
                     "pics/1.png": PNG}),
    ErrorCase("train image not an image", "an image pair naming a file that is not an image", TRAIN,
              '{tmp}/pairs.jsonl line 2: "notes.txt" is not an image file Pillow can read',
              files={"pairs.jsonl": IMAGE_PAIRS + '{"text": "a blue square", "image": "notes.txt"}\n',
                     "pics/1.png": PNG, "notes.txt": NOTES}),
    ErrorCase("train image truncated", "an image pair naming a truncated image file", TRAIN,
              '{tmp}/pairs.jsonl line 2: image "pics/2.png" is damaged (image file is truncated)',
              files={"pairs.jsonl": IMAGE_PAIRS + '{"text": "a blue square", "image": "pics/2.png"}\n',
                     "pics/1.png": PNG, "pics/2.png": PNG[:45]}),
    ErrorCase("train images text model", "image pairs with a model that reads text only",
              (*TRAIN, "--batch-size", "2", "--quiet"),
              "the data holds images but the model reads text only; give an image-text model (a CLIP-style "
              "sentence-transformers model such as clip-ViT-B-32) with --model",
              files={"pairs.jsonl": "".join(IMAGE_PAIRS.replace("red", color) for color in ("red", "green", "blue")),
                     "pics/1.png": PNG}),
    ErrorCase("train uneven negatives", "rows with different numbers of negatives", TRAIN,
              "{tmp}/pairs.jsonl line 2: row has 1 negatives but line 1 has 0; give every row the same number",
              files={"pairs.jsonl": '{"query": "q1", "positive": "p1"}\n'
                                    '{"query": "q2", "pos": "p2", "negative": "n2"}\n'}),
    ErrorCase("train unknown key", "misspelt key in the YAML config", (*TRAIN, "--config", "{tmp}/train.yaml"),
              '{tmp}/train.yaml: unknown key "learning_rat"; did you mean "learning_rate"?',
              files={"pairs.jsonl": PAIRS, "train.yaml": "epochs: 1\nlearning_rat: 2.0e-5\n"}),
    ErrorCase("train bad yaml", "YAML that does not parse", (*TRAIN, "--config", "{tmp}/train.yaml"),
              "{tmp}/train.yaml line 2: invalid YAML (mapping values are not allowed here)",
              files={"pairs.jsonl": PAIRS, "train.yaml": "epochs: 1\n  strategy: lora\n"}),
    ErrorCase("train yaml epochs not a number", "a number setting given a word (epochs: many)",
              (*TRAIN, "--config", "{tmp}/train.yaml"), '{tmp}/train.yaml: epochs must be a number, got "many"',
              files={"pairs.jsonl": PAIRS, "train.yaml": "epochs: many\n"}),
    ErrorCase("train yaml bool not true or false", "a true/false setting given another word "
              "(matryoshka_rotation: maybe)", (*TRAIN, "--config", "{tmp}/train.yaml"),
              '{tmp}/train.yaml: matryoshka_rotation must be true or false, got "maybe"',
              files={"pairs.jsonl": PAIRS, "train.yaml": "matryoshka_dims: [384, 128]\nmatryoshka_rotation: maybe\n"}),
    ErrorCase("train missing config", "--config names a file that does not exist",
              (*TRAIN, "--config", "{tmp}/train.yml"), "{tmp}/train.yml: config file not found",
              files={"pairs.jsonl": PAIRS, "train.yaml": "epochs: 1\n"}),
    ErrorCase("train bad matryoshka dims", "a negative size in --matryoshka-dims",
              (*TRAIN, "--matryoshka-dims", "384,-64"), "flags: matryoshka_dims must be positive, got -64",
              files={"pairs.jsonl": PAIRS}),
    ErrorCase("train unknown hub model", "a hub id that cannot be reached offline",
              (*TRAIN, "--model", "no-such-org/no-such-model", "--batch-size", "2", "--quiet"),
              'cannot load model "no-such-org/no-such-model": it is neither a local folder nor reachable on the '
              "Hugging Face Hub (offline machines need a local path) (We couldn't connect to "
              "'https://huggingface.co' to load the files, and couldn't find them in the cached files.)",
              files={"pairs.jsonl": PAIRS}),
    ErrorCase("train out is a file", "--out names an existing file", ("train", "--data", "{tmp}/pairs.jsonl",
              "--out", "{tmp}/pairs.jsonl"),
              "Invalid value for '--out' / '-o': Directory '{tmp}/pairs.jsonl' is a file.",
              files={"pairs.jsonl": PAIRS}, exit_code=2),
    ErrorCase("train out under a file", "--out inside a path whose parent is a file",
              ("train", "--data", "{tmp}/pairs.jsonl", "--out", "{tmp}/pairs.jsonl/run"),
              'cannot write "{tmp}/pairs.jsonl/run": "{tmp}/pairs.jsonl" is a file, not a folder; '
              "choose another --out", files={"pairs.jsonl": PAIRS}),
    ErrorCase("train out read-only", "--out inside a folder the user may not write (mode 0555)",
              ("train", "--data", "{tmp}/pairs.jsonl", "--out", "{tmp}/locked/run"),
              'cannot write "{tmp}/locked/run": no permission to write in "{tmp}/locked"; choose another --out',
              files={"pairs.jsonl": PAIRS, "locked/": ""}, fault="read-only"),
    ErrorCase("train overwrite foreign folder", "--overwrite on a folder embedtune did not make",
              ("train", "--data", "{tmp}/pairs.jsonl", "--out", "{tmp}/runs", "--overwrite"),
              '--overwrite refuses to clear "{tmp}/runs": embedtune did not make this folder (it holds notes.txt); '
              "choose another --out", files={"pairs.jsonl": PAIRS, "runs/notes.txt": "my notes\n"}),
    ErrorCase("train qlora on cpu", "qlora without a CUDA GPU",
              ("train", "--data", "{tmp}/scifcat", "--out", "{tmp}/out", "--strategy", "qlora"),
              "qlora needs a CUDA GPU and bitsandbytes (found: no CUDA device); use --strategy lora on CPU"),
    ErrorCase("train missing guard data", "--guard-data names a folder that does not exist",
              (*TRAIN, "--guard-data", "{tmp}/dbpedia", "--batch-size", "2", "--quiet"),
              f"guard_data: {{tmp}}/dbpedia: data folder not found ({BEIR_LAYOUT})", files={"pairs.jsonl": PAIRS}),
    ErrorCase("train unknown guard split", "--guard-split the guard folder has no qrels for",
              (*TRAIN, "--guard-data", "{tmp}/data", "--guard-split", "dev", "--batch-size", "2", "--quiet"),
              'guard_data: {tmp}/data/qrels/dev.tsv: split "dev" not found (available splits: test)',
              files={"pairs.jsonl": PAIRS, **beir()}),
    ErrorCase("train bad guard alphas", "a guard alpha above 1",
              (*TRAIN, "--guard-data", "{tmp}/data", "--guard-alphas", "0.8,1.2"),
              "flags: guard_alphas must be in (0, 1] (the tuned model's weight in the mix), got 1.2",
              files={"pairs.jsonl": PAIRS, **beir()}),
    ErrorCase("train unknown flag", "a misspelt flag", ("train", "--data", "x", "--out", "y", "--epoch", "3"),
              "No such option '--epoch'. (Did you mean one of: '--epochs', '--extend-epochs', '--teacher'?)", exit_code=2),
    ErrorCase("train bad choice", "a value outside a flag's choices",
              ("train", "--data", "x", "--out", "y", "--strategy", "dora"),
              "Invalid value for '--strategy': 'dora' is not one of 'full', 'lora', 'qlora'.", exit_code=2),
    # --- eval --------------------------------------------------------------------------------------
    ErrorCase("eval missing folder", "--data names a folder that does not exist", ("eval", "--data", "{tmp}/scifcat"),
              f"{{tmp}}/scifcat: data folder not found ({BEIR_LAYOUT})"),
    ErrorCase("eval malformed json", "corpus line with a missing brace", ("eval", "--data", "{tmp}/data"),
              "{tmp}/data/corpus.jsonl line 2: malformed JSON (Expecting ',' delimiter at column 26)",
              files=beir(corpus='{"_id": "d1", "text": "x"}\n{"_id": "d2", "text": "y"\n')),
    ErrorCase("eval image corpus missing", "a BEIR corpus row naming a missing image", ("eval", "--data", "{tmp}/data"),
              '{tmp}/data/corpus.jsonl line 1: image "gone.png" not found ({tmp}/data/gone.png)',
              files=beir(corpus='{"_id": "d1", "image": "gone.png"}\n')),
    ErrorCase("eval truncated corpus", "corpus.jsonl cut off in the middle of a line", ("eval", "--data", "{tmp}/data"),
              "{tmp}/data/corpus.jsonl line 3: malformed JSON (Unterminated string starting at column 15)",
              files=beir(corpus=CORPUS + '{"_id": "d3", "te')),
    ErrorCase("eval non-utf8 queries", "queries.jsonl with a Latin-1 byte", ("eval", "--data", "{tmp}/data"),
              "{tmp}/data/queries.jsonl line 1: not valid UTF-8 (byte 27 of the line); re-save the file as UTF-8",
              files=beir(queries='{"_id": "q1", "text": "caf\xe9 and T cells"}\n'.encode("latin-1"))),
    ErrorCase("eval empty corpus", "empty corpus.jsonl", ("eval", "--data", "{tmp}/data"),
              "{tmp}/data/corpus.jsonl: the corpus is empty", files=beir(corpus="")),
    ErrorCase("eval corpus without text", "corpus rows with no text column", ("eval", "--data", "{tmp}/data"),
              '{tmp}/data/corpus.jsonl line 1: missing field "text" (fields seen: "_id", "body")',
              files=beir(corpus='{"_id": "d1", "body": "T cells"}\n')),
    ErrorCase("eval qrels score not a number", "a qrels score that is a word", ("eval", "--data", "{tmp}/data"),
              '{tmp}/data/qrels/test.tsv line 2: score "high" is not a number',
              files=beir(qrels="query-id\tcorpus-id\tscore\nq1\td1\thigh\n")),
    ErrorCase("eval qrels wrong columns", "qrels separated by spaces, not tabs", ("eval", "--data", "{tmp}/data"),
              "{tmp}/data/qrels/test.tsv line 1: expected 3 tab-separated columns (query-id, corpus-id, score), got 1",
              files=beir(qrels="q1 d1 1\n")),
    ErrorCase("eval qrels unknown document", "qrels naming a document that is not in the corpus",
              ("eval", "--data", "{tmp}/data"),
              '{tmp}/data/qrels/test.tsv line 2: unknown corpus id "d9" (not in corpus.jsonl)',
              files=beir(qrels="query-id\tcorpus-id\tscore\nq1\td9\t1\n")),
    ErrorCase("eval unknown split", "--split the folder has no qrels for",
              ("eval", "--data", "{tmp}/data", "--split", "nope"),
              '{tmp}/data/qrels/nope.tsv: split "nope" not found (available splits: test)', files=beir()),
    # the data loads (and logs a line) before the model; --quiet leaves only the error
    ErrorCase("eval missing model", "--model path that does not exist",
              ("eval", "--data", "{tmp}/data", "--model", "{tmp}/runs/nope", "--quiet"),
              'model path "{tmp}/runs/nope" does not exist', files=beir()),
    ErrorCase("eval bad dims", "a word in --dims", ("eval", "--data", "{tmp}/data", "--dims", "256,half"),
              '--dims must be whole numbers such as 384,256,128, got "half"', files=beir()),
    ErrorCase("eval json under a file", "--json inside a path whose parent is a file",
              ("eval", "--data", "{tmp}/data", "--json", "{tmp}/data/corpus.jsonl/metrics.json"),
              'cannot write "{tmp}/data/corpus.jsonl/metrics.json": "{tmp}/data/corpus.jsonl" is a file, not a folder; '
              "choose another --json", files=beir()),
    ErrorCase("eval bad backend", "--backend outside its choices", ("eval", "--data", "{tmp}/data", "--backend", "tf"),
              "Invalid value for '--backend': 'tf' is not one of 'sentence-transformers', 'torch', "
              "'torch-bf16', 'onnx', 'onnx-int8', 'openvino', 'openvino-int8'.", files=beir(), exit_code=2),
    # --- mine --------------------------------------------------------------------------------------
    ErrorCase("mine missing folder", "--data names a folder that does not exist",
              ("mine", "--data", "{tmp}/data", "--out", "{tmp}/mined.jsonl"),
              f"{{tmp}}/data: data folder not found ({BEIR_LAYOUT})"),
    ErrorCase("mine output exists", "--out names a file that exists, without --overwrite",
              ("mine", "--data", "{tmp}/data", "--out", "{tmp}/mined.jsonl"),
              '"{tmp}/mined.jsonl" already exists; pass --overwrite to replace it or choose another --out',
              files={**beir(), "mined.jsonl": PAIRS}),
    ErrorCase("mine tiny corpus", "a corpus too small for the negatives asked",
              ("mine", "--data", "{tmp}/data", "--split", "test", "--method", "bm25", "--out", "{tmp}/mined.jsonl",
               "--quiet"),
              "the corpus has 2 documents, too few to skip the top 0 and take 5 negatives besides the positive; "
              "lower range_min or num_negatives", files=beir()),
    ErrorCase("mine yaml bad number", "a whole-number setting given a fraction",
              ("mine", "--data", "{tmp}/data", "--out", "{tmp}/mined.jsonl", "--config", "{tmp}/mine.yaml"),
              "{tmp}/mine.yaml: num_negatives must be a whole number, got 2.5",
              files={**beir(), "mine.yaml": "num_negatives: 2.5\n"}),
    ErrorCase("mine disk full", "the disk fills while the output is written (simulated: fsync fails with ENOSPC)",
              ("mine", "--data", "{tmp}/data", "--split", "test", "--method", "bm25", "--num-negatives", "1",
               "--no-margin", "--out", "{tmp}/mined.jsonl", "--quiet"),
              'cannot write "{tmp}/mined.jsonl": No space left on device; free some space or write elsewhere',
              files=beir(), fault="no-space"),
    # --- generate ----------------------------------------------------------------------------------
    ErrorCase("generate missing corpus", "--data names a path that does not exist",
              ("generate", "--data", "{tmp}/docs", "--out", "{tmp}/pairs.jsonl"),
              f"{{tmp}}/docs: not found ({CORPUS_KINDS})"),
    ErrorCase("generate without data", "no --data", ("generate", "--out", "{tmp}/pairs.jsonl"),
              "Missing option '--data'.", exit_code=2),
    ErrorCase("generate data twice", "--data and its old name --corpus naming different paths",
              ("generate", "--data", "{tmp}/a.jsonl", "--corpus", "{tmp}/b.jsonl", "--out", "{tmp}/pairs.jsonl"),
              "the input data is given twice ({tmp}/a.jsonl and {tmp}/b.jsonl): give it once, as --data",
              exit_code=2),
    ErrorCase("generate empty corpus", "an empty corpus file",
              ("generate", "--data", "{tmp}/corpus.jsonl", "--out", "{tmp}/pairs.jsonl"),
              "{tmp}/corpus.jsonl: no passages with text found", files={"corpus.jsonl": ""}),
    ErrorCase("generate non-utf8 text file", "a .txt document that is not UTF-8",
              ("generate", "--data", "{tmp}/docs", "--out", "{tmp}/pairs.jsonl"),
              "{tmp}/docs/a.txt: not valid UTF-8; re-save the file as UTF-8",
              files={"docs/a.txt": "Caf\xe9 notes about T cells.\n".encode("latin-1")}),
    ErrorCase("generate llm without url", "--method llm without --llm-url and --llm-model",
              ("generate", "--data", "{tmp}/corpus.jsonl", "--out", "{tmp}/pairs.jsonl", "--method", "llm"),
              "flags: method llm needs llm_url and llm_model (--llm-url, --llm-model)", files={"corpus.jsonl": DOCS}),
    ErrorCase("generate out read-only", "--out in a folder the user may not write (mode 0555)",
              ("generate", "--data", "{tmp}/corpus.jsonl", "--out", "{tmp}/locked/pairs.jsonl"),
              'cannot write "{tmp}/locked/pairs.jsonl": no permission to write in "{tmp}/locked"; '
              "choose another --out", files={"corpus.jsonl": DOCS, "locked/": ""}, fault="read-only"),
    ErrorCase("generate disk full", "the disk fills while the pairs are written (simulated: fsync fails with ENOSPC)",
              ("generate", "--data", "{tmp}/corpus.jsonl", "--out", "{tmp}/pairs.jsonl", "--quiet"),
              'cannot write "{tmp}/pairs.jsonl": No space left on device; free some space or write elsewhere',
              files={"corpus.jsonl": DOCS}, fault="no-space"),
    ErrorCase("generate out is a folder", "--out names a folder",
              ("generate", "--data", "{tmp}/corpus.jsonl", "--out", "{tmp}/runs"),
              "Invalid value for '--out' / '-o': File '{tmp}/runs' is a directory.",
              files={"corpus.jsonl": DOCS, "runs/": ""}, exit_code=2),
    # --- adapt -------------------------------------------------------------------------------------
    ErrorCase("adapt missing docs", "--data names a path that does not exist",
              ("adapt", "--data", "{tmp}/docs", "--out", "{tmp}/out"),
              f"{{tmp}}/docs: not found ({CORPUS_KINDS})"),
    ErrorCase("adapt overwrite foreign folder", "--overwrite on a folder embedtune did not make",
              ("adapt", "--data", "{tmp}/corpus.jsonl", "--out", "{tmp}/runs", "--overwrite"),
              '--overwrite refuses to clear "{tmp}/runs": embedtune did not make this folder (it holds notes.txt); '
              "choose another --out", files={"corpus.jsonl": DOCS, "runs/notes.txt": "my notes\n"}),
    ErrorCase("adapt out is a file", "--out names an existing file",
              ("adapt", "--data", "{tmp}/corpus.jsonl", "--out", "{tmp}/corpus.jsonl"),
              "Invalid value for '--out' / '-o': Directory '{tmp}/corpus.jsonl' is a file.",
              files={"corpus.jsonl": DOCS}, exit_code=2),
    # --- export ------------------------------------------------------------------------------------
    ErrorCase("export missing model", "MODEL path that does not exist",
              ("export", "{tmp}/runs/nope", "--format", "st", "--out", "{tmp}/dist"),
              'model path "{tmp}/runs/nope" does not exist'),
    ErrorCase("export without model", "neither MODEL nor --model", ("export", "--format", "st", "--out", "{tmp}/dist"),
              "Missing argument 'MODEL' (or --model).", exit_code=2),
    ErrorCase("export model twice", "MODEL and --model naming different models",
              ("export", "{tmp}/a", "--model", "{tmp}/b", "--format", "st", "--out", "{tmp}/dist"),
              "the model is given twice ({tmp}/a and --model {tmp}/b): give it once", exit_code=2),
    ErrorCase("export model without weights", "model folder with config.json and modules.json but no weights",
              ("export", "{tmp}/model", "--format", "st", "--out", "{tmp}/dist", "--quiet"),
              'cannot load model "{tmp}/model": the folder is not a complete sentence-transformers or transformers '
              "model (a missing or damaged modules.json, config.json or weights file) (Error no file named "
              "model.safetensors, or pytorch_model.bin, found in directory {tmp}/model.)",
              files=MODEL_WITHOUT_WEIGHTS),
    ErrorCase("export bad format", "--format outside its choices", ("export", "x", "--format", "gguf", "--out", "y"),
              "Invalid value for '--format': 'gguf' is not one of 'st', 'adapter', 'onnx', 'onnx-int8', 'openvino', "
              "'openvino-int8'.", exit_code=2),
    ErrorCase("export int8 without documents", "--format openvino-int8 with nothing to calibrate on",
              ("export", "all-MiniLM-L6-v2", "--format", "openvino-int8", "--out", "{tmp}/dist"),
              "--format openvino-int8 calibrates on your documents: give --calibration-data (a BEIR folder or "
              "corpus .jsonl; --eval-data's corpus is used when given)"),
    # --- index -------------------------------------------------------------------------------------
    ErrorCase("index missing data", "--data names a path that does not exist",
              ("index", "--data", "{tmp}/data", "--out", "{tmp}/index"),
              "Invalid value for '--data' / '-d': Path '{tmp}/data' does not exist.", exit_code=2),
    ErrorCase("index corpus without text", "corpus rows with no text column",
              ("index", "--data", "{tmp}/corpus.jsonl", "--out", "{tmp}/index"),
              '{tmp}/corpus.jsonl line 1: missing field "text" (fields seen: "_id", "body")',
              files={"corpus.jsonl": '{"_id": "d1", "body": "T cells"}\n'}),
    ErrorCase("index overwrite foreign folder", "--overwrite on a folder embedtune did not make",
              ("index", "--data", "{tmp}/data", "--out", "{tmp}/runs", "--overwrite"),
              '--overwrite refuses to clear "{tmp}/runs": embedtune did not make this folder (it holds notes.txt); '
              "choose another --out", files={**beir(), "runs/notes.txt": "my notes\n"}),
    # --- search ------------------------------------------------------------------------------------
    ErrorCase("search missing index", "INDEX_DIR that does not exist", ("search", "{tmp}/index", "T cells"),
              'index folder "{tmp}/index" not found; build one with `embedtune index`'),
    ErrorCase("search not an index", "INDEX_DIR is a folder, but not an index", ("search", "{tmp}/data", "T cells"),
              '"{tmp}/data" is not an embedtune index (missing index.faiss, documents.jsonl, index.json); '
              "build one with `embedtune index`", files=beir()),
    ErrorCase("search truncated index.json", "index.json cut off mid-file", ("search", "{tmp}/index", "T cells"),
              "{tmp}/index/index.json: malformed JSON (Unterminated string starting at line 1 column 16); "
              "rebuild the index with `embedtune index`",
              files={"index/index.faiss": b"", "index/documents.jsonl": CORPUS,
                     "index/index.json": '{"model": "x", "ki'}),
    ErrorCase("search damaged faiss file", "index.faiss that is empty", ("search", "{tmp}/index", "T cells"),
              "{tmp}/index/index.faiss: not a readable FAISS index (damaged or cut short); "
              "rebuild the index with `embedtune index`",
              files={"index/index.faiss": b"", "index/documents.jsonl": CORPUS, "index/index.json": INDEX_INFO}),
    # --- serve -------------------------------------------------------------------------------------
    ErrorCase("serve port in use", "--port another program already listens on",
              ("serve", "all-MiniLM-L6-v2", "--port", "{port}"),
              "port {port} on 127.0.0.1 is already in use; stop the program listening there or choose another --port",
              port_in_use=True),
    ErrorCase("serve missing model", "MODEL path that does not exist", ("serve", "{tmp}/runs/nope"),
              'model path "{tmp}/runs/nope" does not exist'),
    ErrorCase("serve missing index", "--index names a folder that does not exist",
              ("serve", "all-MiniLM-L6-v2", "--index", "{tmp}/index"),
              'index folder "{tmp}/index" not found; build one with `embedtune index`'),
    ErrorCase("serve lean with index", "--backend lean-openvino-int8 with --index (no PyTorch to check it)",
              ("serve", "all-MiniLM-L6-v2", "--backend", "lean-openvino-int8", "--index", "{tmp}/index"),
              "--backend lean-openvino-int8 serves /v1/embeddings only: --index needs the PyTorch model to check "
              "the index against; use --backend openvino-int8 for /search"),
    ErrorCase("serve lean hub id", "--backend lean-openvino-int8 with a hub id, not an export folder",
              ("serve", "all-MiniLM-L6-v2", "--backend", "lean-openvino-int8"),
              '--backend lean-openvino-int8 serves a local export folder, not "all-MiniLM-L6-v2": write one with '
              "`embedtune export --model MODEL --format openvino-int8 --out FOLDER`"),
    ErrorCase("serve int8 without index", "--backend openvino-int8 with no documents to calibrate on",
              ("serve", "all-MiniLM-L6-v2", "--backend", "openvino-int8"),
              "--backend openvino-int8 calibrates on the documents it serves, which need --index DIR "
              "(or serve an `embedtune export --format openvino-int8` folder, or use --backend "
              "openvino or onnx-int8)"),
    # --- pretrain ----------------------------------------------------------------------------------
    ErrorCase("pretrain missing corpus", "--data names a file that does not exist",
              ("pretrain", "--data", "{tmp}/abstracts.jsonl", "--out", "{tmp}/out"),
              "{tmp}/abstracts.jsonl: corpus not found (give a BEIR folder, or a .jsonl or .txt file)"),
    ErrorCase("pretrain corpus without text", "corpus rows with no text column",
              ("pretrain", "--data", "{tmp}/pairs.jsonl", "--out", "{tmp}/out"),
              '{tmp}/pairs.jsonl line 1: missing field "text" (fields seen: "query", "positive")',
              files={"pairs.jsonl": PAIRS}),
    ErrorCase("pretrain non-utf8 text", "a .txt corpus that is not UTF-8",
              ("pretrain", "--data", "{tmp}/notes.txt", "--out", "{tmp}/out"),
              "{tmp}/notes.txt line 2: not valid UTF-8 (byte 4 of the line); re-save the file as UTF-8",
              files={"notes.txt": "T cells fight infection.\nCaf\xe9 notes.\n".encode("latin-1")}),
    ErrorCase("pretrain unsupported file type", "a corpus file that is neither .jsonl nor .txt",
              ("pretrain", "--data", "{tmp}/notes.pdf", "--out", "{tmp}/out"),
              '{tmp}/notes.pdf: unsupported corpus file type ".pdf" (use .jsonl, .txt or a BEIR folder)',
              files={"notes.pdf": b"%PDF-1.4\n"}),
    ErrorCase("pretrain yaml bad value", "a number setting given a word",
              ("pretrain", "--data", "{tmp}/notes.txt", "--out", "{tmp}/out", "--config", "{tmp}/pretrain.yaml"),
              '{tmp}/pretrain.yaml: max_steps must be a number, got "lots"',
              files={"notes.txt": NOTES, "pretrain.yaml": "max_steps: lots\n"}),
    ErrorCase("pretrain out read-only", "--out inside a folder the user may not write (mode 0555)",
              ("pretrain", "--data", "{tmp}/notes.txt", "--out", "{tmp}/locked/run"),
              'cannot write "{tmp}/locked/run": no permission to write in "{tmp}/locked"; choose another --out',
              files={"notes.txt": NOTES, "locked/": ""}, fault="read-only"),
    ErrorCase("pretrain bad method", "--method outside its choices",
              ("pretrain", "--data", "x", "--out", "y", "--method", "simcse"),
              "Invalid value for '--method': 'simcse' is not one of 'tsdae', 'mlm'.", exit_code=2),
]
