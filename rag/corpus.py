"""Which files make up a corpus, and in which format each is read.

`rag ingest --corpus PATH` takes a file or a folder. A folder with manifest.json reads the pages it lists, in
its order, each in its declared format; a folder without one reads every file in it (sorted, recursively).
A file's format is the `--format` override, else the manifest's, else detected from its CONTENT (never
from its name: a .txt may hold JSON lines). Whatever cannot be read becomes a `Problem`, never an exception,
except a manifest that is not JSON (the one file that says how to read the others).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.models import Record
from rag.parse import FORMATS, parse_source
from rag.parse.arxiv_snapshot import SIGNATURE
from rag.parse.bibtex import ENTRY_START
from rag.parse.common import DATE_HEADER, SNIFF_BYTES, CorpusError, LineReader, Problem, is_binary, looks_like_abstract
from rag.parse.csv_table import delimiter
from rag.parse.profile import HEADER as PROFILE_HEADER

MANIFEST = "manifest.json"
DETECT_BYTES = 1 << 16  # the seed page formats show their shape within the first 64 KB
DETECT_LINES = 400
ARXIV_LINE = re.compile(r"^arXiv:\d{4}\.\d{4,5}")


@dataclass
class SourceFile:
    path: Path
    name: str  # as provenance shows it: the path inside the corpus folder
    format: str | None  # declared (manifest or --format); None: detect from the content


@dataclass
class Corpus:
    root: Path  # the folder (or the single file) given
    sources: list[SourceFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def discover(path: Path, fmt: str | None = None) -> Corpus:
    """The sources of a corpus path. `fmt` (from --format) overrides every declared or detected format."""
    if fmt is not None and fmt not in FORMATS:
        raise CorpusError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if path.is_file():
        return Corpus(path, [SourceFile(path, path.name, fmt)])
    if not path.is_dir():
        raise CorpusError(f"{path}: no such file or folder")
    corpus = _from_manifest(path) if (path / MANIFEST).is_file() else _from_folder(path)
    if fmt is not None:
        for src in corpus.sources:
            src.format = fmt
    return corpus


def _from_folder(root: Path) -> Corpus:
    corpus = Corpus(root)
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            corpus.sources.append(SourceFile(p, rel.as_posix(), None))
    if not corpus.sources:
        raise CorpusError(f"{root / MANIFEST}: missing, and the folder has no other files to read")
    return corpus


def _from_manifest(root: Path) -> Corpus:
    manifest = root / MANIFEST
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        entries = data["pages"]
        if not isinstance(entries, list):
            raise TypeError("'pages' is not a list")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorpusError(f"{manifest}: malformed ({exc})") from exc
    corpus = Corpus(root)
    listed: set[Path] = set()
    base = root.resolve()
    for i, entry in enumerate(entries, 1):
        where = f"{MANIFEST} entry {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            corpus.problems.append(Problem(MANIFEST, 0, f"skipped: {where} has no 'file'"))
            continue
        rel, fmt = entry["file"], entry.get("format")
        target = (root / rel).resolve()
        if not target.is_relative_to(base):
            corpus.problems.append(Problem(rel, 0, f"refused: {where} points outside the corpus folder {root}"))
            continue
        if not target.is_file():
            corpus.problems.append(Problem(rel, 0, f"skipped: listed in {MANIFEST} but not in {root}"))
            continue
        if fmt is not None and fmt not in FORMATS:
            corpus.problems.append(
                Problem(rel, 0, f"skipped: {where} has unknown format {fmt!r} (known: {', '.join(FORMATS)})")
            )
            continue
        listed.add(target)
        corpus.sources.append(SourceFile(root / rel, rel, fmt))
    for p in sorted(root.rglob("*")):
        rel_path = p.relative_to(root)
        if p.is_file() and p.name != MANIFEST and not rel_path.parts[0].startswith(".") and p.resolve() not in listed:
            corpus.problems.append(
                Problem(rel_path.as_posix(), 0, f"skipped: not listed in {MANIFEST} (add it, with its format)")
            )
    return corpus


def detect_format(path: Path) -> str | None:
    """The format a file's content is in, or None when it matches none."""
    try:
        with path.open("rb") as f:
            head = f.read(DETECT_BYTES)
    except OSError:
        return None
    if not head.strip() or is_binary(head[:SNIFF_BYTES]):
        return None
    lines = [line for _, line in zip(range(DETECT_LINES), _head_lines(path, head), strict=False)]
    return detect_lines(lines)


def _head_lines(path: Path, head: bytes) -> Iterator[str]:
    # Whole lines even when the first one is longer than the sniffed bytes (a snapshot record is ~2 KB, but
    # may be more); LineReader bounds each.
    for _, line in LineReader(path, path.name, max(len(head), DETECT_BYTES) * 4):
        yield line


def detect_lines(lines: list[str]) -> str | None:
    nonblank = [line.strip() for line in lines if line.strip()]
    if not nonblank:
        return None
    first = nonblank[0]
    if first.startswith("{"):
        return _json_kind(nonblank[:5])
    if any(ENTRY_START.match(line) for line in nonblank[:50]):
        return "bibtex"
    cells = {c.strip().strip('"').strip().lower() for c in first.split(delimiter(first))}
    if "abstract" in cells:
        return "csv"
    if sum(line.startswith("Abstract:") for line in nonblank) * 2 > len(nonblank):
        return "abstract-list"
    if any(ARXIV_LINE.match(line) for line in nonblank):
        return "arxiv-listing"
    if any(PROFILE_HEADER.match(line) for line in nonblank):
        return "profile"
    if "Daily Papers" in nonblank or any(DATE_HEADER.match(line) for line in nonblank):
        return "daily-papers"
    if any(looks_like_abstract(line) for line in nonblank) and any(not looks_like_abstract(x) for x in nonblank):
        return "title-list"
    return None


def _json_kind(lines: list[str]) -> str | None:
    for line in lines:
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(obj, dict):
            keys = {str(k).lower() for k in obj}
            if "id" in keys and keys & SIGNATURE:
                return "arxiv-snapshot"
            return "jsonl"
    return "jsonl"  # JSON-looking lines that do not parse: read as JSONL so each one is reported


@dataclass
class SourceCount:
    name: str
    format: str | None
    records: int = 0
    skipped: int = 0


def read(corpus: Corpus, max_bytes: int, counts: list[SourceCount]) -> Iterator[Record | Problem]:
    """Every record and problem of every source, streamed; one `SourceCount` per source appended to `counts`.
    A source that yields no paper says so loudly (wrong format declared, empty file, nothing recognisable)."""
    yield from corpus.problems
    for src in corpus.sources:
        detected = None
        fmt = src.format
        if fmt is None:
            fmt = detected = detect_format(src.path)
        count = SourceCount(src.name, fmt)
        counts.append(count)
        if fmt is None:
            yield Problem(src.name, 0, _undetected(src.path))
            count.skipped += 1
            continue
        reader = LineReader(src.path, src.name, max_bytes)
        for item in parse_source(reader, fmt):
            if isinstance(item, Problem):
                count.skipped += item.skipped
            else:
                count.records += 1
            yield item
        if count.records == 0 and reader.nonblank == 0 and not reader.problems:
            yield Problem(src.name, 0, "skipped: empty file")
        elif count.records == 0 and reader.nonblank:
            guess = detected or detect_format(src.path)
            hint = f"; its content looks like {guess!r}" if guess and guess != fmt else ""
            yield Problem(
                src.name, 0, f"skipped: NO papers read as {fmt!r} from {reader.nonblank} non-blank lines "
                f"(wrong format?{hint})"
            )  # fmt: skip


def _undetected(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        return f"skipped: cannot read: {exc.strerror or exc}"
    if not head.strip():
        return "skipped: empty file"
    if is_binary(head):
        return "skipped: binary file (NUL bytes), not text"
    return f"skipped: format not recognised from the content (give it with --format or in {MANIFEST}: {FORMATS})"
