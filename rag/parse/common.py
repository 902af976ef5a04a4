"""What every page parser shares: the result type, page chrome, dates, line reading."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

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
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class PageResult:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_lines(path: Path) -> list[str]:
    """The page's lines, cleaned, numbered from 1 by list index + 1."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusError(f"{path.name}:{line}: not UTF-8 text ({exc.reason})") from exc
    return [clean_line(line) for line in text.splitlines()]


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
