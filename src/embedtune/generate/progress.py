"""Per-passage results of slow generators kept on disk, so a rerun after a failure skips what is done.

The file is JSONL: a first line with the settings that shaped the results, then one line per
passage, appended and flushed as each result arrives. A crash loses at most the line being written.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, TextIO

from embedtune.errors import DataError, OutputExistsError

logger = logging.getLogger(__name__)


class ProgressFile:
    """``done``: doc id -> queries already generated; ``record`` appends one passage's queries."""

    def __init__(self, path: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.settings = settings
        self.done: dict[str, list[str]] = {}
        self._file: TextIO | None = None
        if self.path.is_file() and self.path.stat().st_size:
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError:
            raise DataError(self.path, "not a progress file (malformed first line); delete it to start over", 1) from None
        if header.get("settings") != self.settings:
            changed = sorted(k for k in set(header.get("settings") or {}) | set(self.settings)
                             if (header.get("settings") or {}).get(k) != self.settings.get(k))
            raise OutputExistsError(f'{self.path} holds results made with other settings ({", ".join(changed)} '
                                    "differ); rerun with the same settings to resume, or delete it to start over")
        for number, line in enumerate(lines[1:], start=2):
            try:
                row = json.loads(line)
                self.done[row["doc_id"]] = list(row["queries"])
            except (json.JSONDecodeError, KeyError, TypeError):
                # the line being written when the run died: that passage is simply generated again
                logger.warning("%s line %d is incomplete; that passage will be generated again", self.path, number)
        logger.info("resuming: %d passages already generated in %s", len(self.done), self.path)

    def record(self, doc_id: str, queries: list[str]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not (self.path.is_file() and self.path.stat().st_size)
            self._file = open(self.path, "a", encoding="utf-8")
            if fresh:
                self._file.write(json.dumps({"settings": self.settings}, ensure_ascii=False) + "\n")
            elif not self._ends_with_newline():
                self._file.write("\n")  # after a torn last line
        self._file.write(json.dumps({"doc_id": doc_id, "queries": queries}, ensure_ascii=False) + "\n")
        self._file.flush()
        self.done[doc_id] = queries

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, 2)
            return f.read(1) == b"\n"

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
