"""Every bound on user input, in one place, with its numbers from `Settings.limits`.

`Engine` checks each question, history, k and filters here, so the CLI, the HTTP API, the UI and
Python callers get the same bounds and the same messages. Each check costs time proportional to its
bound, never to the input: a 5 MB history is refused after counting at most `history_chars` + one
message, not after reading it all. Every message names the bound and the setting that sets it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from rag.errors import UserError
from rag.models import Message
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.catalog import Catalog
    from rag.retrieve import Filters

# C0 control characters except tab, newline and carriage return, plus DEL: never meaningful in a
# question, and NUL breaks C libraries downstream. RTL marks, zero-width joiners and emoji are text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """`text` without control characters (NUL included)."""
    return _CONTROL.sub("", text)


def clip(text: str, chars: int) -> str:
    """`text` cut to `chars` characters for echoing back in an error, saying how long it was."""
    return text if len(text) <= chars else f"{text[:chars]}... ({len(text)} characters in all)"


class Limits:
    """Checks one request's inputs against the configured bounds; raises `UserError` naming the bound."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.bounds = settings.limits

    def question(self, question: object) -> str:
        if question is not None and not isinstance(question, str):
            raise UserError(f"the question must be text, not {type(question).__name__}")
        q = clean_text(question or "").strip()
        if not q:
            raise UserError("the question is empty")
        limit = self.settings.answer.max_question_chars
        if len(q) > limit:
            raise UserError(
                f"the question is {len(q)} characters long; the limit is {limit} (answer.max_question_chars)"
            )
        return q

    def history(self, history: list[Message]) -> list[Message]:
        b = self.bounds
        if len(history) > b.history_turns:
            raise UserError(
                f"the history has {len(history)} messages; the limit is {b.history_turns} (limits.history_turns)"
            )
        total = 0
        out = []
        for i, m in enumerate(history, 1):
            n = len(m.content)
            if n > b.message_chars:
                raise UserError(
                    f"history message {i} is {n} characters long; the limit is {b.message_chars} (limits.message_chars)"
                )
            total += n
            if total > b.history_chars:
                raise UserError(
                    f"the history holds more than {b.history_chars} characters in all (limits.history_chars)"
                )
            out.append(m.model_copy(update={"content": clean_text(m.content)}))
        return out

    def k(self, k: int | None) -> int | None:
        if k is None:
            return None
        top = self.bounds.k_max
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= top:
            raise UserError(f"k must be a whole number from 1 to {top} (limits.k_max), not {k!r}")
        return k

    def filters(self, f: Filters, catalog: Catalog) -> Filters:
        """Bounded filters that name only what the catalog holds: a filter that can match nothing says why."""
        b = self.bounds
        for name in ("authors", "dates", "paper_ids"):
            values: list[str] = getattr(f, name)
            if len(values) > b.filter_items:
                raise UserError(
                    f"filters.{name} has {len(values)} entries; the limit is {b.filter_items} (limits.filter_items)"
                )
            for v in values:
                self._filter_string(f"filters.{name}", v)
        for name in ("category", "source"):
            value = getattr(f, name)
            if value is not None:
                self._filter_string(f"filters.{name}", value)
        for name in ("year_from", "year_to"):
            year = getattr(f, name)
            if year is not None and not b.year_min <= year <= b.year_max:
                raise UserError(
                    f"filters.{name} is {year}; years run from {b.year_min} to {b.year_max} "
                    "(limits.year_min, limits.year_max)"
                )
        if f.year_from is not None and f.year_to is not None and f.year_from > f.year_to:
            raise UserError(f"the year range is empty: year_from {f.year_from} is after year_to {f.year_to}")
        if f.category:
            known = catalog.categories()
            if f.category.lower() not in {c.lower() for c in known}:
                raise UserError(f"unknown category {clip(f.category, 40)!r}; the corpus has {', '.join(known)}")
        if f.source:
            sources = catalog.sources()
            if f.source not in sources:
                raise UserError(f"unknown source {clip(f.source, 40)!r}; the corpus has {', '.join(sources)}")
        unknown = [pid for pid in f.paper_ids if pid not in catalog]
        if unknown:
            raise UserError(f"unknown paper id {clip(unknown[0], 40)!r} in filters.paper_ids")
        return f

    def _filter_string(self, field: str, value: str) -> None:
        if len(value) > self.bounds.filter_chars:
            raise UserError(
                f"{field} has a value of {len(value)} characters; the limit is {self.bounds.filter_chars} "
                "(limits.filter_chars)"
            )

    def body(self, size: int) -> str | None:
        """Why a request body (or batch line) of `size` bytes is refused, or None when it fits."""
        limit = self.bounds.body_bytes
        if size > limit:
            return f"the request is larger than {limit} bytes (limits.body_bytes)"
        return None


class RateLimiter:
    """A token bucket per client: `rate_per_s` requests a second on average, `burst` at once.

    Memory is bounded too: at most `max_clients` buckets are kept; the least recently seen goes first.
    """

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000
    ):
        self.rate = rate_per_s
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, last time)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, client: str) -> float:
        """0 when `client` may go ahead (one token spent), else the seconds until it may."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait
