"""What every page parser shares: the result type, page chrome, dates, line reading."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

from rag.errors import UserError
from rag.models import Record
from rag.text import clean_line

# Site furniture that is never paper text. Matched on whole lines, or as a prefix glued to a title.
CHROME_LINES = {
    "new",
    "Get trending papers in your email inbox!",
    "Get trending papers in your email inbox once a day!",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
}
CHROME_PREFIXES = ("Subscribe",)
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
DATE_HEADER = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}$")
# A line of abstract text, as opposed to a title: long, or several sentences.
ABSTRACT_MIN_CHARS = 250


class CorpusError(UserError):
    """A page that cannot be read at all (missing, not UTF-8, unknown format)."""


@dataclass
class Problem:
    """Something a parser skipped or could not attach, with the file and line to look at."""

    file: str
    line: int  # 1-based; 0 when the problem is the whole file
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"

    @property
    def skipped(self) -> bool:
        """Something was left out (a record, a line, a file), as opposed to kept with a note."""
        return self.message.startswith(("skipped", "refused"))


@dataclass
class PageResult:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


SNIFF_BYTES = 8192  # how much of a file decides "binary" and its format
READ_CHUNK = 1 << 16


def is_binary(head: bytes) -> bool:
    """NUL bytes never occur in text pages, JSON, CSV or BibTeX; they do in PDFs, images, archives."""
    return b"\x00" in head


def decode(raw: bytes) -> tuple[str, bool]:
    """(text, exact): UTF-8, else cp1252 (what "Latin-1" files usually are), else Latin-1, which never fails."""
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), False
    except UnicodeDecodeError:
        return raw.decode("latin-1"), False


class LineReader:
    """A file's lines, streamed: (1-based number, text). Never loads the file whole, never raises on content.

    A line longer than `max_bytes` is skipped (reading on to its end costs a byte scan, not parsing);
    a line that is not UTF-8 is decoded as cp1252; a binary or unreadable file yields nothing. Each of
    these lands in `problems`, once per file for the encoding.
    """

    def __init__(self, path: Path, name: str, max_bytes: int):
        self.path, self.name, self.max_bytes = path, name, max_bytes
        self.problems: list[Problem] = []
        self.lines_read = 0
        self.nonblank = 0
        self.ended_without_newline = False

    def __iter__(self) -> Iterator[tuple[int, str]]:
        try:
            with self.path.open("rb") as f:
                if is_binary(f.read(SNIFF_BYTES)):
                    self.problems.append(Problem(self.name, 1, "skipped: binary file (NUL bytes), not text"))
                    return
                f.seek(0)
                yield from self._lines(f)
        except OSError as exc:
            self.problems.append(Problem(self.name, 0, f"skipped: cannot read: {exc.strerror or exc}"))

    def _lines(self, f: BinaryIO) -> Iterator[tuple[int, str]]:
        noted_encoding = False
        no = 0
        while True:
            raw = f.readline(self.max_bytes + 1)
            if not raw:
                return
            no += 1
            if len(raw) > self.max_bytes and not raw.endswith(b"\n"):
                size = len(raw) + self._skip_to_line_end(f)
                self.problems.append(
                    Problem(self.name, no, f"skipped: line of {size:,} bytes exceeds the record limit of "
                            f"{self.max_bytes:,} (corpus.max_record_bytes)")
                )  # fmt: skip
                yield no, ""  # keeps later line numbers right for the page parsers
                continue
            self.ended_without_newline = not raw.endswith(b"\n")
            if no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            text, exact = decode(raw.rstrip(b"\r\n"))
            if not exact and not noted_encoding:
                noted_encoding = True
                self.problems.append(Problem(self.name, no, "not UTF-8 from this line on: read as cp1252/Latin-1"))
            self.lines_read = no
            if text.strip():
                self.nonblank += 1
            yield no, text

    @staticmethod
    def _skip_to_line_end(f: BinaryIO) -> int:
        skipped = 0
        while chunk := f.readline(READ_CHUNK):
            skipped += len(chunk)
            if chunk.endswith(b"\n"):
                break
        return skipped


def read_lines(path: Path, max_bytes: int = 1_000_000, problems: list[Problem] | None = None) -> list[str]:
    """A page's lines, cleaned, numbered from 1 by list index + 1 (pages are small: read whole).
    What could not be read (binary, oversized lines, encoding) is added to `problems`."""
    reader = LineReader(path, path.name, max_bytes)
    lines = [clean_line(text) for _, text in reader]
    if problems is not None:
        problems += reader.problems
    return lines


def strip_chrome_prefix(line: str) -> str:
    """'SubscribeSynergistic Integration…' -> 'Synergistic Integration…'."""
    for prefix in CHROME_PREFIXES:
        rest = line[len(prefix) :]
        if line.startswith(prefix) and rest[:1].isupper():
            return rest
    return line


def looks_like_abstract(line: str) -> bool:
    # Length alone: titles such as "… (HADES) simulations. I. Impact of …" contain sentence breaks.
    return len(line) >= ABSTRACT_MIN_CHARS


def parse_date(text: str) -> tuple[str | None, int | None]:
    """'Oct 24, 2023' -> ('2023-10-24', 2023); 'May 11' (no year) -> (None, None): never guess a year."""
    m = re.fullmatch(r"([A-Z][a-z]{2}) (\d{1,2})(?:, (\d{4}))?", text.strip())
    if not m or m.group(1) not in MONTHS or not m.group(3):
        return None, None
    try:
        d = date(int(m.group(3)), MONTHS[m.group(1)], int(m.group(2)))
    except ValueError:
        return None, None
    return d.isoformat(), d.year
