"""Citation verification after generation.

The model is asked to end every factual sentence with `[n]` markers. Models get this wrong in
predictable ways: numbers that were never provided, the right claim with the wrong number, or no
marker at all. This module checks each marker against the text of the source it names, using
content-word overlap (lowercased, stop words removed, light stemming plus prefix matching), and
repairs what it can. Deterministic and pure Python: it runs on every answer.

Support score of a sentence for a source: the weighted share of the sentence's content words
found in that source. Words found in few of the provided sources weigh more (they tell sources
apart), as do words found in none (an unsupported detail counts against every source) and numbers.
Capitalised names found in no source (authors: source texts may lack them) do not count at all.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

from rag.prompts import REFUSAL_MARKER

# Calibrated on corpus abstracts (tests/test_citations.py): faithful paraphrases score 0.55-1.0 against
# their source; unrelated sentences mostly below 0.3, generic ones ("LLMs are evaluated on benchmarks")
# up to about 0.6 against a source that shares their vocabulary.
UNSUPPORTED = 0.3  # below this the cited source does not support the sentence
CLEAR = 0.6  # a source must score this much to be attached or swapped in
MARGIN = 0.35  # ... and beat a weakly supporting cited source by this much
UNSEEN_WEIGHT = 1.0  # a word in no source weighs as much as one found in exactly one
NUMBER_WEIGHT = 2.0  # numbers are the specific facts a wrong citation most often gets wrong

_OPEN, _CLOSE = "[［【〔", "]］】〕"
_NUM = r"[0-9０-９]+"
_MARKER = re.compile(
    rf"[{re.escape(_OPEN)}]\s*(?:(?:sources?|refs?|ref\.)\s*)?({_NUM}(?:\s*(?:[,;，、]|[-–—~]|and)\s*{_NUM})*)\s*"
    rf"[{re.escape(_CLOSE)}]",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(\d+)\s*[-–—~]\s*(\d+)")
_SENTENCE_END = re.compile(r"[.!?。！？]+[\"'”’)]*")
_TRAILING_PUNCT = re.compile(r"[.!?。！？]+$")
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+")  # "81.45" stays one token
_REFUSAL = re.compile(r"^[\W_]*" + re.escape(REFUSAL_MARKER) + r"\b", re.IGNORECASE)
_META = re.compile(r"\b(?:sources?|abstracts?|corpus|context|provided)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|none|neither|nor|cannot)\b|n't", re.IGNORECASE)

_STOP = frozenset(
    """a about above after again against all also although am among an and any are as at be because been
    before being below between both but by can could did do does doing done down during each either else
    etc even ever every few for from further had has have having he her here hers him his how however i
    if in into is it its itself just least less like made make makes many may me might more most much
    must my neither no nor not now of off often on once one only onto or other others our out over own
    per rather same several she should since so some such than that the their them then there these
    they this those though through thus to too toward towards under until up upon us very via was we
    well were what when where whether which while who whom whose why will with within without would yet
    you your e g i.e eg ie al et
    paper papers work works study studies studied author authors source sources provided abstract
    abstracts propose proposes proposed present presents presented introduce introduces introduced
    show shows showed shown demonstrate demonstrates describe describes discuss discusses new novel
    approach approaches method methods result results use uses used using based called named
    mentioned according mention mentions information details specific specifically overall summary
    write writes wrote written writing author authored coauthored co published publishes researchers team
    """.split()
)
# (suffix, replacement), longest first; the prefix match below absorbs what this misses.
_SUFFIXES = (
    ("izations", "iz"), ("ization", "iz"), ("isation", "iz"), ("ations", "at"), ("ation", "at"),
    ("ements", ""), ("ement", ""), ("ments", ""), ("ment", ""), ("nesses", ""), ("ness", ""),
    ("ities", ""), ("ity", ""), ("ically", ""), ("ical", ""), ("ives", ""), ("ive", ""), ("ings", ""),
    ("ing", ""), ("edly", ""), ("ied", "y"), ("ies", "y"), ("ed", ""), ("ly", ""), ("sses", "ss"),
    ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("s", ""),
)  # fmt: skip
_MIN_PREFIX = 5  # shortest stem that may match a longer one by prefix ("optim" ~ "optimiz")
_MAX_EXTRA = 4  # most extra letters the longer stem may have


@dataclass
class Verified:
    text: str  # final answer text, markers renumbered 1..m in order of first appearance
    cited: list[int]  # ORIGINAL 1-based source numbers: new marker [i+1] <-> original source cited[i]
    warnings: list[str] = field(default_factory=list)
    refused: bool = False  # the model replied with REFUSAL_MARKER, alone or leading


# -- words ------------------------------------------------------------------------------------------
def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def stem(word: str) -> str:
    """Light suffix stripping; enough for overlap scoring, not a linguistic stemmer."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] != "s":
        word = word[:-1]  # "stopp" -> "stop"
    return word


def content_words(text: str) -> list[tuple[str, bool]]:
    """(stem, looks like a name) for each distinct content word, in order."""
    words = _WORD.findall(text)
    out: dict[str, bool] = {}
    for i, word in enumerate(words):
        low = _fold(word)
        if low in _STOP or len(low) < 2:
            continue
        capitalised = word[:1].isupper() and word[1:].islower()  # "Bradley", not "ImageNet" or "DPO"
        # A capitalised word is a name unless it only opens the sentence ("Bananas are ...").
        name = capitalised and (i > 0 or (i + 1 < len(words) and words[i + 1][:1].isupper()))
        key = stem(low)
        out[key] = out.get(key, True) and name
    return list(out.items())


class _Source:
    """A source's stems, with every prefix that may stand for one of them."""

    def __init__(self, text: str):
        self.stems = {stem(_fold(w)) for w in _WORD.findall(text)}
        self.prefixes = {
            s[:n]
            for s in self.stems
            if not any(ch.isdigit() for ch in s)
            for n in range(max(_MIN_PREFIX, len(s) - _MAX_EXTRA), len(s))
        }

    def has(self, word: str) -> bool:
        if word in self.stems or word in self.prefixes:
            return True
        if any(ch.isdigit() for ch in word):
            return False  # numbers match exactly or not at all
        return any(word[:n] in self.stems for n in range(max(_MIN_PREFIX, len(word) - _MAX_EXTRA), len(word)))


def support_scores(claim: str, sources: list[_Source]) -> list[float] | None:
    """Support of `claim` by each source, or None when nothing in it can be checked."""
    words = content_words(claim)
    found = [[src.has(w) for src in sources] for w, _ in words]
    weights = []
    unseen = UNSEEN_WEIGHT * (1.0 + math.log(max(len(sources), 1)))
    for (word, name), hits in zip(words, found, strict=True):
        df = sum(hits)
        weight = (0.0 if name else unseen) if df == 0 else 1.0 + math.log(len(sources) / df)
        weights.append(weight * (NUMBER_WEIGHT if word[:1].isdigit() else 1.0))
    if not sources or sum(w > 0 for w in weights) < 2:
        return None  # one word is too little evidence to judge (or re-attribute) a citation
    total = sum(weights)
    return [sum(w for w, hits in zip(weights, found, strict=True) if hits[j]) / total for j in range(len(sources))]


# -- markers and sentences -----------------------------------------------------------------------------
@dataclass
class _Group:
    """Adjacent markers (`[1][2]`, `[1, 2]`) as one unit: their span and the numbers they name."""

    start: int
    end: int
    numbers: list[int]


def _numbers(inner: str) -> list[int]:
    inner = unicodedata.normalize("NFKC", inner)
    out: list[int] = []
    for part in re.split(r"\s*(?:[,;，、]|\band\b)\s*", inner):
        r = _RANGE.fullmatch(part.strip())
        if r and 0 < int(r.group(2)) - int(r.group(1)) <= 20:
            out += range(int(r.group(1)), int(r.group(2)) + 1)
        elif r:
            out += [int(r.group(1)), int(r.group(2))]
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def _groups(text: str) -> list[_Group]:
    groups: list[_Group] = []
    for m in _MARKER.finditer(text):
        if groups and not text[groups[-1].end : m.start()].strip(" \t"):
            groups[-1].end = m.end()
            groups[-1].numbers += _numbers(m.group(1))
        else:
            groups.append(_Group(m.start(), m.end(), _numbers(m.group(1))))
    return groups


def _sentence_spans(text: str, groups: list[_Group]) -> list[tuple[int, int]]:
    """Sentence spans; a marker right after the full stop ("... models. [1]") stays with its sentence."""
    group_at = {g.start: g for g in groups}
    cuts = {m.start() for m in re.finditer(r"\n", text)}
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        while True:
            nxt = end + len(text[end:]) - len(text[end:].lstrip(" \t"))
            if nxt not in group_at:
                break
            end = group_at[nxt].end
        after = text[end:].lstrip(" \t")
        if end < len(text) and not text[end].isspace():
            continue  # "2.5", "e.g.,", a URL
        if after[:1].islower():
            continue  # "e.g. the", "et al. show"
        cuts.add(end)
    spans, start = [], 0
    for cut in [*sorted(cuts), len(text)]:
        if text[start:cut].strip():
            spans.append((start, cut))
        start = cut
    return spans


def _snippet(sentence: str, limit: int = 90) -> str:
    sentence = " ".join(re.sub(rf"\s*{_MARKER.pattern}", "", sentence, flags=re.IGNORECASE).split())
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _is_claim(sentence: str) -> bool:
    """Does this sentence state something that needs a source?"""
    body = sentence.strip().lstrip("-*•> ").strip()
    if not body or body.startswith("#") or body.rstrip("*_ ").endswith(("?", ":")):
        return False
    if _META.search(body) and _NEGATION.search(body):
        return False  # "The sources do not say which dataset was used."
    return len(content_words(body)) >= 3


def _best(scores: list[float], exclude: set[int]) -> int | None:
    """0-based index of the best-scoring source outside `exclude` (lowest number on ties)."""
    candidates = [j for j in range(len(scores)) if j + 1 not in exclude]
    return max(candidates, key=lambda j: (scores[j], -j)) if candidates else None


# -- the check ------------------------------------------------------------------------------------------
def verify_citations(text: str, sources: list[str]) -> Verified:
    """Check, repair and renumber the `[n]` markers of `text` against `sources` (source n is sources[n-1])."""
    if _REFUSAL.match(text):
        return Verified(text=text.strip(), cited=[], warnings=[], refused=True)
    prepared = [_Source(s) for s in sources]
    warnings: list[str] = []
    groups = _groups(text)
    inserts: list[_Group] = []  # markers added to uncited claims (empty spans)
    for start, end in _sentence_spans(text, groups):
        mine = [g for g in groups if start <= g.start < end]
        _drop_out_of_range(mine, len(sources), warnings)
        if any(g.numbers for g in mine):
            _check_cited(text, start, end, mine, prepared, warnings)
        elif _is_claim(text[start:end]):
            best = _clear_best(text[start:end], prepared)
            if best is None:
                if not mine:  # a bogus marker already has its warning
                    warnings.append(f"uncited claim: {_snippet(text[start:end])}")
            elif mine:
                mine[-1].numbers = [best]  # in place of the bogus marker
            else:
                at = _insertion_point(text, start, end)
                inserts.append(_Group(at, at, [best]))
    return _render(text, sorted(groups + inserts, key=lambda g: g.start), warnings)


def _drop_out_of_range(groups: list[_Group], n: int, warnings: list[str]) -> None:
    for g in groups:
        for num in dict.fromkeys(g.numbers):
            if not 1 <= num <= n:
                provided = f"only {n} source{' was' if n == 1 else 's were'} provided" if n else "no sources were given"
                warnings.append(f"removed citation [{num}]: {provided}")
        g.numbers = [num for num in dict.fromkeys(g.numbers) if 1 <= num <= n]


def _check_cited(
    text: str, start: int, end: int, groups: list[_Group], sources: list[_Source], warnings: list[str]
) -> None:
    """Keep, swap or drop each number of the sentence's marker groups."""
    sentence = text[start:end]
    whole = support_scores(_MARKER.sub(" ", sentence), sources)
    if whole is None:
        return  # nothing checkable (e.g. only author names): trust the model
    cited = {num for g in groups for num in g.numbers}
    clause_start = start
    for g in groups:
        # "X does A [1], while Y does B [2]": each group is also judged on its own clause.
        clause = support_scores(_MARKER.sub(" ", text[clause_start : g.end]), sources) or whole
        clause_start = g.end
        scores = [max(a, b) for a, b in zip(whole, clause, strict=True)]
        floor = UNSUPPORTED / max(len(g.numbers), 1)  # "[1][2][3]" after a list: each backs a part
        kept: list[int] = []
        for num in g.numbers:
            score = scores[num - 1]
            alt = _best(scores, cited)
            if alt is not None and scores[alt] >= CLEAR and (score < floor or scores[alt] >= score + MARGIN):
                kept.append(alt + 1)
                cited.add(alt + 1)
                warnings.append(
                    f'replaced citation [{num}] with [{alt + 1}]: source {num} does not support "{_snippet(sentence)}"'
                )
            elif score < floor:
                warnings.append(f'removed citation [{num}]: source {num} does not support "{_snippet(sentence)}"')
            else:
                kept.append(num)
        g.numbers = list(dict.fromkeys(kept))


def _clear_best(sentence: str, sources: list[_Source]) -> int | None:
    """The 1-based number of a source that clearly supports an uncited sentence, if any."""
    scores = support_scores(sentence, sources)
    best = _best(scores, set()) if scores else None
    return best + 1 if scores and best is not None and scores[best] >= CLEAR else None


def _insertion_point(text: str, start: int, end: int) -> int:
    """Where a marker goes: before the sentence's final punctuation, else at its end."""
    body = text[start:end].rstrip()
    tail = _TRAILING_PUNCT.search(body)
    return start + (tail.start() if tail else len(body))


def _render(text: str, groups: list[_Group], warnings: list[str]) -> Verified:
    """Apply the decisions: renumber by first appearance and rewrite or drop each marker group."""
    order: dict[int, int] = {}
    for g in groups:
        for num in g.numbers:
            order.setdefault(num, len(order) + 1)
    out: list[str] = []
    pos = 0
    for g in groups:
        start, end = g.start, g.end
        marks = "".join(f"[{order[num]}]" for num in g.numbers)
        if not marks:  # drop the group and the space before it ("models [9]." -> "models.")
            while start > pos and text[start - 1] in " \t":
                start -= 1
            if start == 0 or text[start - 1] == "\n":
                while end < len(text) and text[end] in " \t":
                    end += 1
        elif start == end:
            marks = (" " if start > 0 and not text[start - 1].isspace() else "") + marks
        out.append(text[pos:start] + marks)
        pos = end
    out.append(text[pos:])
    return Verified(text="".join(out), cited=list(order), warnings=list(dict.fromkeys(warnings)), refused=False)
