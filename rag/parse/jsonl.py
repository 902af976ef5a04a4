"""JSON lines with `title` and `abstract` keys (any case); other keys are kept as metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from rag.models import Record, Source
from rag.parse.common import Problem
from rag.parse.fields import record_from_columns

PAGE = "jsonl"


def objects(lines: Iterable[tuple[int, str]], name: str) -> Iterator[tuple[int, dict[str, Any]] | Problem]:
    """(line number, object) per non-blank line, or a Problem for a line that is not one JSON object."""
    for no, line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            yield Problem(name, no, f"skipped: malformed JSON ({reason}; a truncated record?)")
            continue
        if not isinstance(obj, dict):
            yield Problem(name, no, f"skipped: a JSON {type(obj).__name__}, not an object")
            continue
        yield no, obj


def parse(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Record | Problem]:
    for item in objects(lines, name):
        if isinstance(item, Problem):
            yield item
            continue
        no, obj = item
        rec = record_from_columns(obj, Source(file=name, line=no, page=PAGE))
        yield rec if isinstance(rec, Record) else Problem(name, no, rec)
