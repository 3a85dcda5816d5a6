"""Line-by-line reading that turns every problem into a DataError naming the file and line (public: the
generate and serving packages read their own JSONL files with it)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from embedtune.errors import DataError


def read_lines(path: Path, skip_blank: bool = True) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for non-blank (or all) lines, decoding UTF-8 strictly per line."""
    if not path.is_file():
        raise DataError(path, "file not found")
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                problem = f"not valid UTF-8 (byte {exc.start + 1} of the line); re-save the file as UTF-8"
                raise DataError(path, problem, number) from None
            if text.strip() or not skip_blank:
                yield number, text


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each JSON line; anything but an object is an error."""
    for number, text in read_lines(path):
        try:
            # without the newline, or an error at the end of the line is reported at column 1 of the next
            obj = json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            raise DataError(path, f"malformed JSON ({json_problem(exc)})", number) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", number)
        yield number, obj


def json_problem(exc: json.JSONDecodeError, line: bool = False) -> str:
    """What is wrong and where: "Expecting ',' delimiter at column 26" (some of json's own messages
    already end in "at", as in "Unterminated string starting at")."""
    where = f"line {exc.lineno} column {exc.colno}" if line else f"column {exc.colno}"
    return f"{exc.msg.removesuffix(' at')} at {where}"


def fields_seen(obj: dict[str, Any]) -> str:
    return ", ".join(f'"{k}"' for k in obj) or "none"


def require_text(path: Path, number: int, obj: dict[str, Any], names: tuple[str, ...]) -> str:
    """The first of ``names`` present in ``obj`` as a non-empty string (ids may be numbers)."""
    for name in names:
        if name in obj:
            value = obj[name]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise DataError(path, f'field "{name}" must be a string, got {type(value).__name__}', number)
            if not value.strip():
                raise DataError(path, f'field "{name}" is empty', number)
            return value
    wanted = " or ".join(f'"{n}"' for n in names)
    raise DataError(path, f"missing field {wanted} (fields seen: {fields_seen(obj)})", number)
