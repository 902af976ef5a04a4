"""Every parser fuzzed (hypothesis, bounded: a few seconds per format): whatever the bytes, no exception;
everything is parsed or reported."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.corpus import SourceCount, detect_format, discover, read
from rag.parse import FORMATS, STREAM_PARSERS, Problem, parse_page

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))  # per test; CI's bound keeps the file under 30 s
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ABSTRACT = "We study length generalization of transformers on arithmetic tasks and find strong effects. " * 3

# Fragments each format is made of, so the fuzzer reaches deep into the parsers, not just their first check.
FRAGMENTS = [
    "{", "}", '"', ",", "\t", ";", "\\", "@article{k,", "title = {", "abstract = {", "author = {A and B}",
    "month = jan", " # ", "$x^2$", "{\\\"o}", '{"id": "2401.00001", "title": "T", "abstract": "', '"versions": [',
    '"authors_parsed": [["A", "B", ""]]', "title,abstract,authors", "Abstract:", "arXiv:2401.00001",
    "LGOct 24, 2023", "A, B et al. · org", "Daily Papers", "Oct 2", "Subscribe", ABSTRACT, "\n", "\r\n",
    "\x00", "\u200b", "é", "🙂", "null", "[1]",
]  # fmt: skip
text_pieces = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=40)), max_size=40).map("".join)
raw_bytes = st.one_of(st.binary(max_size=2000), text_pieces.map(lambda t: t.encode("utf-8", "surrogatepass")))


def write(data: bytes) -> Path:
    d = Path(tempfile.mkdtemp())
    path = d / "page"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
@BOUNDED
@given(data=raw_bytes)
def test_no_input_crashes_a_parser_and_nothing_vanishes(fmt: str, data: bytes) -> None:
    path = write(data)
    out = parse_page(path, fmt, max_bytes=1000)
    assert all(isinstance(p, Problem) and p.file == "page" and p.line >= 0 for p in out.problems)
    for rec in out.records:
        assert rec.abstract.strip() and rec.source.file == "page" and rec.source.line >= 1
    # a whole source read as `fmt`: any content gives a paper or a problem (at worst "NO papers read as ...")
    counts: list[SourceCount] = []
    items = list(read(discover(path, fmt), 1000, counts))
    if data.strip():
        assert items, f"{fmt}: {data[:80]!r} produced neither a paper nor a problem"


@pytest.mark.parametrize("fmt", ["jsonl", "arxiv-snapshot"])  # CSV and BibTeX records span lines
@BOUNDED
@given(lines=st.lists(text_pieces.map(lambda t: t.replace("\n", " ").replace("\r", " ")), max_size=20))
def test_line_formats_account_for_every_line(fmt: str, lines: list[str]) -> None:
    """JSONL and the snapshot: one paper or one 'skipped' problem per non-blank line, at that line."""
    items = list(STREAM_PARSERS[fmt](list(enumerate(lines, 1)), "f", 10_000))
    accounted = {i.line for i in items if isinstance(i, Problem) and i.skipped}
    accounted |= {i.source.line for i in items if not isinstance(i, Problem)}
    nonblank = {no for no, line in enumerate(lines, 1) if line.strip()}
    assert accounted == nonblank


@BOUNDED
@given(obj=st.dictionaries(st.text(max_size=12), st.recursive(st.none() | st.booleans() | st.integers() |
       st.text(max_size=60), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
       max_leaves=8), max_size=8))  # fmt: skip
def test_any_json_object_is_a_record_or_a_reason(obj: dict[str, object]) -> None:
    for fmt in ("jsonl", "arxiv-snapshot"):
        line = json.dumps(obj | {"abstract": obj.get("abstract", ABSTRACT)})
        (item,) = [i for i in STREAM_PARSERS[fmt]([(1, line)], "f", 10_000) if not (isinstance(i, Problem) and
                   not i.skipped)]  # fmt: skip
        assert isinstance(item, Problem) or item.abstract.strip()


@BOUNDED
@given(data=raw_bytes)
def test_detection_never_crashes(data: bytes) -> None:
    assert detect_format(write(data)) in [*FORMATS, None]
