"""LLM generation against a small OpenAI-compatible server started by the test on 127.0.0.1."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from embedtune.data.pairs import load_pairs
from embedtune.errors import ConfigError
from embedtune.generate import GenerateConfig, GenerationError, Passage, generate_pairs
from embedtune.generate.llm import LLMError, parse_queries
from embedtune.generate.pipeline import progress_path

PASSAGES = [Passage(f"d{i}", f"Passage number {i} explains topic {i} with {{braces}} and more words to keep it long "
                             "enough for the length filter of generated pairs.", f"Title {i}") for i in range(5)]


class FakeChat:
    """What the server does: ``fail_first`` requests get ``fail_status``; then numbered queries per passage."""

    def __init__(self) -> None:
        self.fail_first = 0
        self.fail_status = 503
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        self.delay = 0.0
        self.in_flight = 0
        self.most_in_flight = 0

    def respond(self, body: dict, headers: dict) -> tuple[int, dict]:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            if len(self.requests) <= self.fail_first:
                return self.fail_status, {"error": {"message": "overloaded"}}
        prompt = body["messages"][0]["content"]
        number = prompt.split("Passage number ")[1].split()[0]
        content = f"Here are queries:\n1. what does passage {number} explain about topic {number}\n" \
                  f"2) \"which topic is covered in passage {number}\"\n- third query for passage {number}"
        return 200, {"choices": [{"message": {"role": "assistant", "content": content}}],
                     "usage": {"total_tokens": 10}}


@pytest.fixture()
def server() -> Iterator[tuple[str, FakeChat]]:
    chat = FakeChat()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers["Content-Length"])
            status, payload = chat.respond(json.loads(self.rfile.read(length)), dict(self.headers))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", chat
    httpd.shutdown()
    httpd.server_close()


def config(url: str, **overrides: object) -> GenerateConfig:
    values = {"method": "llm", "llm_url": url, "llm_model": "fake", "queries_per_doc": 2, "retry_backoff": 0.0,
              "round_trip": "none", "min_passage_words": 5, "llm_api_key_env": "EMBEDTUNE_TEST_KEY",
              "concurrency": 3, **overrides}
    return GenerateConfig(**values)


def test_llm_pairs_are_parsed_filtered_and_train_ready(server, tmp_path: Path, monkeypatch) -> None:
    url, chat = server
    monkeypatch.setenv("EMBEDTUNE_TEST_KEY", "secret")
    template = tmp_path / "prompt.txt"
    template.write_text("Write {n} queries for: {title} / {passage}", encoding="utf-8")
    out = tmp_path / "pairs.jsonl"
    result = generate_pairs(PASSAGES, config(url, prompt_template=str(template)), out=out)
    assert not result.stopped and result.llm == {"requests": 5, "tokens": 50, "failed": 0}
    assert {p.query for p in result.pairs} == {f"what does passage {i} explain about topic {i}" for i in range(5)} | \
        {f"which topic is covered in passage {i}" for i in range(5)}, "numbering, quotes and the preamble removed"
    assert all(p.positive == PASSAGES[int(p.doc_id[1:])].full_text and p.method == "llm" for p in result.pairs)
    assert chat.requests[0]["model"] == "fake"
    prompts = {r["messages"][0]["content"] for r in chat.requests}
    assert f"Write 2 queries for: Title 0 / {PASSAGES[0].full_text}" in prompts, "braces in the passage survive"
    assert all(h["Authorization"] == "Bearer secret" for h in chat.headers)
    assert len(load_pairs(out)) == 10


def test_requests_run_concurrently_up_to_the_limit(server, tmp_path: Path) -> None:
    url, chat = server
    chat.delay = 0.2
    passages = [Passage(f"c{i}", f"Passage number {i} explains a topic at some length for the filter.") for i in range(7)]
    result = generate_pairs(passages, config(url, concurrency=3), out=tmp_path / "pairs.jsonl")
    assert len(result.pairs) == 14 and chat.most_in_flight == 3


def test_retries_recover_from_overload(server, tmp_path: Path) -> None:
    url, chat = server
    chat.fail_first = 3
    result = generate_pairs(PASSAGES, config(url, concurrency=1), out=tmp_path / "pairs.jsonl")
    assert not result.stopped and len(result.pairs) == 10
    assert result.llm["requests"] == len(chat.requests) == 5 + 3


def test_budget_stops_and_a_rerun_resumes_without_repeating(server, tmp_path: Path) -> None:
    url, chat = server
    out = tmp_path / "pairs.jsonl"
    first = generate_pairs(PASSAGES, config(url, max_requests=3, concurrency=1), out=out)
    assert first.stopped.startswith("budget reached (3 requests, 30 tokens); 2 of 5 passages still to do: rerun")
    assert len(first.pairs) == 6 and len(load_pairs(out)) == 6, "what was made is written"
    done = [json.loads(line) for line in progress_path(out).read_text().splitlines()[1:]]
    assert len(done) == 3
    second = generate_pairs(PASSAGES, config(url, concurrency=1), out=out)
    assert not second.stopped and len(second.pairs) == 10
    assert len(chat.requests) == 5, "the rerun asked only for the 2 passages still missing"


def test_a_torn_progress_line_is_generated_again(server, tmp_path: Path) -> None:
    url, chat = server
    out = tmp_path / "pairs.jsonl"
    generate_pairs(PASSAGES, config(url), out=out)
    lines = progress_path(out).read_text().splitlines()
    progress_path(out).write_text("\n".join(lines[:-1] + [lines[-1][:15]]))  # the process died mid-line
    result = generate_pairs(PASSAGES, config(url), out=out)
    assert len(chat.requests) == 6 and len(result.pairs) == 10


def test_changed_settings_refuse_to_mix_results(server, tmp_path: Path) -> None:
    url, _ = server
    out = tmp_path / "pairs.jsonl"
    generate_pairs(PASSAGES, config(url), out=out)
    with pytest.raises(Exception, match="holds results made with other settings \\(queries_per_doc differ\\)"):
        generate_pairs(PASSAGES, config(url, queries_per_doc=3), out=out)


def test_an_endpoint_that_keeps_failing_stops_the_run(server, tmp_path: Path) -> None:
    url, chat = server
    chat.fail_first, chat.fail_status = 10_000, 500
    passages = [Passage(f"x{i}", f"Passage number {i} text", "") for i in range(30)]
    with pytest.raises(GenerationError, match="8 passages in a row failed every retry; the endpoint looks down"):
        generate_pairs(passages, config(url, max_retries=1, concurrency=1), out=tmp_path / "pairs.jsonl")
    assert len(chat.requests) == 16, "8 passages x (1 try + 1 retry), then it stopped"


def test_a_refused_request_is_one_clear_error(server, tmp_path: Path) -> None:
    url, chat = server
    chat.fail_first, chat.fail_status = 10_000, 401
    with pytest.raises(LLMError, match=r"/v1/chat/completions: HTTP 401 \(\{\"error\": \{\"message\": "
                                       r"\"overloaded\"\}\}\); check --llm-url, --llm-model and the API key"):
        generate_pairs(PASSAGES, config(url), out=tmp_path / "pairs.jsonl")
    assert len(chat.requests) <= 3, "no retries of a 401"


def test_prompt_template_needs_the_passage(tmp_path: Path) -> None:
    template = tmp_path / "prompt.txt"
    template.write_text("Write queries.", encoding="utf-8")
    with pytest.raises(ConfigError, match="has no {passage} placeholder"):
        generate_pairs(PASSAGES, config("http://127.0.0.1:9", prompt_template=str(template)),
                       out=tmp_path / "pairs.jsonl")


def test_parse_queries() -> None:
    assert parse_queries("Sure! Here you go:\n\n1. first one\n2. 'second'\nQ3: third\n", 2) == ["first one", "second"]
