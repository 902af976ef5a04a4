"""Questions the catalog answers exactly, in every mode: one paper's facts (authors, arXiv id, date, venue)
and listings by author, affiliation, venue or period - alone, or with a topic ("did Hattie Zhou write
anything on diffusion models?"). The route was decided by rag.understand; this module only answers it.
Titles, authors and ids always come from the catalog."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from rag.catalog import IDS_KEPT, Catalog, mention_pattern
from rag.models import LISTED_BY, Answer, Entity, Fact, Hit, Paper, SearchResult
from rag.responses import cited, refused, refused_closest
from rag.text import fold

TRUNCATED_NOTE = "(Some pages list only the first authors, 'et al.': papers where they come later may be missing.)"
VENUE_COMMENT = re.compile(  # an arXiv comment that states a venue
    r"\b(accepted|to appear|published|presented|camera[- ]ready|proceedings)\b"
    r"|\b(NeurIPS|ICML|ICLR|AISTATS|CVPR|ICCV|ECCV|ACL|EMNLP|NAACL|AAAI|IJCAI|COLT|UAI|KDD|TMLR|JMLR)\b",
    re.I,
)
# Papers a listing shows: a year of a million papers is ~100k of them, and an author can have thousands. The header
# says how many there are; a topic in the question narrows them. The ids an entity keeps (IDS_KEPT) are those shown.
LISTED_MAX = IDS_KEPT
BY_DATE_MAX = 10  # papers shown newest (or oldest) first, and of a topic's count: the question asks for the top ones


def _authors(p: Paper) -> str | None:
    aff = f" ({', '.join(p.affiliations)})" if p.affiliations else ""
    return f'"{p.title}" was written by {p.authors_display}{aff} [1].' if p.authors else None


def _arxiv_id(p: Paper) -> str | None:
    return f'The arXiv id of "{p.title}" is {p.arxiv_id} ({p.url}) [1].' if p.arxiv_id else None


def _venue(p: Paper) -> str | None:
    if p.journal_ref:
        return f'"{p.title}" appeared in {p.journal_ref} [1].'
    said = [c for c in p.comments if VENUE_COMMENT.search(c)]
    return f'The arXiv comments of "{p.title}" say: ' + "; ".join(f'"{c}"' for c in said) + " [1]." if said else None


def _date(p: Paper) -> str | None:
    return f'"{p.title}" is dated {p.date_text or p.date} [1].' if p.date_text or p.date else None


# fact -> (its sentence when the catalog holds it, else None; its name in `missing`; the sentence when it does not)
FACT_TEXT: dict[Fact, tuple[Callable[[Paper], str | None], str, str]] = {
    "authors": (_authors, "authors", 'The corpus does not list the authors of "{title}".'),
    "arxiv_id": (_arxiv_id, "arXiv id", 'The corpus gives no arXiv id for "{title}".'),
    "venue": (_venue, "venue", 'The corpus does not record where "{title}" was published or accepted.'),
    "date": (_date, "date", 'The corpus gives no date for "{title}".'),
}


class CatalogAnswers:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def answer(self, found: SearchResult, relevant: list[Hit], mode: str) -> Answer | None:
        """The catalog's answer for the question's intent, or None when it is not a catalog question."""
        a = found.analysis
        if a is None:
            return None
        if a.intent == "paper_fact" and a.paper:
            return self.facts(found, self.catalog.by_id[a.paper], mode)
        if a.conjunction:
            return self.by_name(found, a.conjunction[0], relevant, mode)
        if a.intent == "list_by_venue":
            return self.by_venue(found, a.of_kind("venue")[0], mode)
        if a.intent in LISTED_BY:
            return self.listing_by_name(found, a.of_kind(LISTED_BY[a.intent])[0], mode)
        if a.intent == "list_by_period":
            return self.by_period(found, a.periods, mode)
        if a.intent == "topical" and (a.count or a.order) and not found.unmatched:  # a word no paper has: refused
            return self.counted(found, relevant, mode) if a.count else self.by_date(found, relevant, mode)
        return None

    # -- how many, and which is newest ---------------------------------------------------------------------
    def counted(self, found: SearchResult, relevant: list[Hit], mode: str) -> Answer:
        """How many papers the corpus holds: all of them, or those whose text mentions every word of the topic."""
        assert found.analysis is not None
        topic, total = found.analysis.topic, len(self.catalog)
        if not topic:  # "how many papers are in the corpus?"
            dated, _ = self.catalog.by_date()
            text = f"The corpus holds {total:,} papers; {_dated_share(len(dated), total)}"
            if len(dated):
                first, last = self.catalog.at([int(dated[-1]), int(dated[0])])
                text += f", from {_when(first)} to {_when(last)}"
            return cited(found, [], text + ".", mode)
        mention = self.catalog.with_words(topic_words(topic))
        if not len(mention):
            text = f'No paper\'s title or abstract uses every word of "{topic}".'
            if not relevant:
                return refused_closest(found, text, mode, missing=[topic])
            text += " The papers closest to the question in meaning:"
            return self._hits(found, relevant, text, mode, missing=[topic])
        text = f'{len(mention):,} of the corpus\'s {total:,} papers mention every word of "{topic}"'
        text += " in their title or abstract"
        shown = self._mentioning(found, mention)
        more = f"; {len(shown)} of them, the closest to the question first" if len(mention) > len(shown) else ""
        return self._hits(found, shown, f"{text}{more}:", mode)

    def by_date(self, found: SearchResult, relevant: list[Hit], mode: str) -> Answer | None:
        """The newest (or oldest) papers: of those mentioning the topic, or closest to it in meaning when none does
        ("the latest work on making chatbots safer"), or of the whole corpus when the question names no topic."""
        assert found.analysis is not None
        topic, pinned = found.analysis.topic, found.analysis.pinned
        if pinned:  # "which of them is the newest?": the papers under discussion
            ords = self.catalog.ords_of(pinned)
            hits = [Hit.of(p, i, 1.0) for i, p in enumerate(self._papers(pinned), 1)]
            return self._by_date(found, ords, f"{len(ords)} paper(s) under discussion", hits, mode)
        if not topic:
            return self._by_date(found, None, f"{len(self.catalog):,} papers in the corpus", [], mode)
        mention = self.catalog.with_words(topic_words(topic))
        if len(mention):
            what = f'{len(mention):,} paper(s) mentioning every word of "{topic}"'
            return self._by_date(found, mention, what, self._mentioning(found, mention), mode)
        if not relevant:
            return None  # nothing on the topic: the usual refusal
        ords = self.catalog.ords_of(h.paper_id for h in relevant)
        return self._by_date(found, ords, f"{len(ords)} paper(s) closest to the question", relevant, mode)

    def _by_date(
        self, found: SearchResult, ords: np.ndarray | None, what: str, undated: list[Hit], mode: str,
        footer: str | None = None,
    ) -> Answer:  # fmt: skip
        """`what` (positions `ords`, or the whole corpus) newest or oldest first, the dated ones only: the corpus
        cannot place a paper without a date, and says how many it could not (`undated`: shown when none is dated)."""
        assert found.analysis is not None
        newest = found.analysis.order != "oldest"
        extreme = "most recent" if newest else "oldest"
        if ords is not None and not len(ords):  # "her oldest paper from 2031"
            return refused(found, f"The corpus holds {what}.", mode, found.hits[:3])
        dated, unknown = self.catalog.by_date(ords, newest)
        if not len(dated):
            corpus = _dated_share(self.catalog.dated_count(), len(self.catalog))
            text = f"None of the {what} carries a date (the corpus holds {len(self.catalog):,} papers; {corpus}), "
            text += f"so it cannot tell which is the {extreme}."
            if not undated:
                return refused(found, text, mode, found.hits[:3], missing=["publication dates"])
            listed = "The papers, undated:" if len(undated) == len(ords if ords is not None else undated) else (
                f"{len(undated)} of them, undated:")
            return self._hits(found, undated, f"{text} {listed}", mode, missing=["publication dates"])
        papers = self.catalog.at(dated[:BY_DATE_MAX].tolist())
        lines = [f'The {extreme} of the {what} is "{papers[0].title}" ({_when(papers[0])}) [1].']
        if len(papers) > 1:
            lines.append(("Newest" if newest else "Oldest") + (" first:" if len(dated) == len(papers) else
                                                               f" {len(papers)} of the {len(dated):,} dated:"))
            lines += [f"- {p.title} ({_when(p)}) [{i}]" for i, p in enumerate(papers, 1)]
        if unknown:
            lines.append(f"{unknown:,} of them carry no date, so one of those may be {'newer' if newest else 'older'}.")
        lines += [footer] if footer else []
        return cited(found, [Hit.of(p, i, 1.0) for i, p in enumerate(papers, 1)], "\n".join(lines), mode)

    def _mentioning(self, found: SearchResult, mention: np.ndarray) -> list[Hit]:
        """Up to BY_DATE_MAX papers among `mention`: those retrieval found, in its order, then the others in catalog
        order."""
        at = self.catalog.positions(h.paper_id for h in found.hits)
        inside = set(mention.tolist())
        hits = [h for h in found.hits if at.get(h.paper_id) in inside][:BY_DATE_MAX]
        seen = {at[h.paper_id] for h in hits}
        rest = [o for o in mention[: BY_DATE_MAX + len(seen)].tolist() if o not in seen][: BY_DATE_MAX - len(hits)]
        return hits + [Hit.of(p, len(hits) + i, 1.0) for i, p in enumerate(self.catalog.at(rest), 1)]

    @staticmethod
    def _hits(found: SearchResult, hits: list[Hit], header: str, mode: str, missing: list[str] | None = None) -> Answer:
        lines = [header] + [f"- {h.title} [{i}]" for i, h in enumerate(hits, 1)]
        return cited(found, hits, "\n".join(lines), mode, missing=missing)

    # -- one paper -------------------------------------------------------------------------------------
    def facts(self, found: SearchResult, paper: Paper, mode: str) -> Answer:
        assert found.analysis is not None
        hit = next((h for h in found.hits if h.paper_id == paper.paper_id), None) or Hit.of(paper, 1, 1.0)
        stated: list[str] = []
        missing: list[str] = []  # facts asked for that the catalog does not hold: said, never guessed
        lacking: list[str] = []
        for fact in found.analysis.facts:
            say, name, lacks = FACT_TEXT[fact]
            if text := say(paper):
                stated.append(text)
            else:
                missing.append(lacks.format(title=paper.title))
                lacking.append(name)
        if stated:
            return cited(found, [hit], " ".join(stated + missing), mode, missing=lacking)
        # A fact the catalog does not hold: said plainly, the paper it is about offered to read.
        return refused(found, " ".join(missing), mode, [hit], missing=lacking)

    # -- listings --------------------------------------------------------------------------------------
    def listing_by_name(self, found: SearchResult, name: Entity, mode: str) -> Answer:
        when, ords = "", self.catalog.positions_of(name)
        if found.analysis and (periods := found.analysis.periods):  # "which of her papers are from 2025?"
            ords = self.catalog.dated_among(ords, [e.value for e in periods])
            papers, total = self.catalog.at(ords[:LISTED_MAX].tolist()), len(ords)
            when = " dated " + " or ".join(e.name for e in periods)
        else:
            papers, total = self._papers(name.paper_ids[:LISTED_MAX]), name.paper_count
        if found.analysis and found.analysis.order:  # "Hattie Zhou's latest paper"
            what = f"{total:,} paper(s){when} with {name.name} {_role(name)}"
            undated = [Hit.of(p, i, 1.0) for i, p in enumerate(papers[:LISTED_MAX], 1)]
            return self._by_date(found, ords, what, undated, mode, footer=self._truncation(name))
        return self._listing(
            found,
            papers[:LISTED_MAX],
            f"The corpus holds {total:,} paper(s){when} with {name.name} {_role(name)}{_shown(total)}:",
            lambda p: f"{p.title} ({p.date_text or p.year or 'date unknown'})",
            mode,
            footer=self._truncation(name),
        )

    def by_name(self, found: SearchResult, name: Entity, relevant: list[Hit], mode: str) -> Answer:
        """A name and a topic: the name's papers (retrieval was scoped to them) that are about the topic."""
        assert found.analysis is not None
        topic = found.analysis.topic
        total = name.paper_count
        mine = set(self.catalog.positions_of(name).tolist())  # all the name's papers, not only the ids it lists
        at = self.catalog.positions(h.paper_id for h in relevant)
        about = [h for h in relevant if at.get(h.paper_id) in mine]
        if not about:
            text = (
                f"None of the {total:,} paper(s) in the corpus with {name.name} {_role(name)} is about {topic}. "
                f"Their papers{_shown(total)}:"
            )
            theirs = self._papers(name.paper_ids[:LISTED_MAX])
            answer = self._listing(found, theirs, text, lambda p: p.title, mode, footer=self._truncation(name))
            answer.missing = [f"{topic} (among the papers of {name.name})"]
            return answer
        if found.analysis.order:  # "Stanford's newest paper on diffusion"
            ords = self.catalog.ords_of(h.paper_id for h in about)
            what = f"{len(about)} paper(s) with {name.name} {_role(name)} about {topic}"
            return self._by_date(found, ords, what, about, mode, footer=self._truncation(name))
        lead = "Yes: " if len(about) == 1 else ""
        return cited(
            found,
            about,
            "\n".join(
                [f"{lead}{len(about)} of the {total:,} paper(s) with {name.name} {_role(name)} "
                 f"are about {topic}:" if len(about) > 1 else
                 f"{lead}1 of the {total:,} paper(s) with {name.name} {_role(name)} is about {topic}:"]
                + [f"- {h.title} [{i}]" for i, h in enumerate(about, 1)]
                + ([t] if (t := self._truncation(name)) else [])
            ),
            mode,
        )  # fmt: skip

    def by_venue(self, found: SearchResult, venue: Entity, mode: str) -> Answer:
        papers, total = self._papers(venue.paper_ids[:LISTED_MAX]), venue.paper_count
        if not papers:
            text = f"No paper's arXiv comments in the corpus mention {venue.name}; venues are recorded only there."
            return refused(found, text, mode, found.hits[:1], missing=[venue.name])
        mentions = mention_pattern(venue.name)
        return self._listing(
            found,
            papers,
            f"The arXiv comments of {total:,} paper(s) in the corpus mention {venue.name}{_shown(total)}:",
            lambda p: f'{p.title}: "{"; ".join(c for c in p.venue_notes if mentions.search(c))}"',
            mode,
        )

    def by_period(self, found: SearchResult, periods: list[Entity], mode: str) -> Answer:
        when = " or ".join(p.name for p in periods)
        papers = self._papers([pid for p in periods for pid in p.paper_ids])
        total = sum(p.paper_count for p in periods)  # a period keeps its first papers only (IDS_KEPT)
        if not papers:
            return self.none_dated(found, periods, mode)
        if found.analysis and found.analysis.order:  # "the earliest papers of 2024"
            # every paper of the periods, from the date columns (a period's entity keeps only its first ids)
            everything = np.arange(len(self.catalog), dtype=np.int64)
            ords = self.catalog.dated_among(everything, [p.value for p in periods])
            return self._by_date(found, ords, f"{total:,} paper(s) dated {when}", [], mode)
        return self._listing(
            found, papers[:LISTED_MAX], f"The corpus holds {total:,} paper(s) dated {when}{_shown(total)}:",
            lambda p: f"{p.title} ({p.date_text or p.date})", mode,
        )  # fmt: skip

    def none_dated(self, found: SearchResult, periods: list[Entity], mode: str) -> Answer:
        """No paper is dated in the periods the question asks about ("papers from 2031"): said, and what is."""
        when = " or ".join(p.name for p in periods)
        dated, total = self.catalog.dated_count(), len(self.catalog)
        of = f"all {total:,} carry a date" if dated == total else f"only {dated:,} of its {total:,} carry a date"
        text = f"No paper in the corpus is dated {when}; {of}."
        return refused(found, text, mode, found.hits[:1], missing=[f"papers dated {when}"])

    def unknown_title(self, found: SearchResult, title: str, mode: str) -> Answer:
        """The question cites a paper by a title no paper of the corpus has: said, with the closest papers, rather
        than another paper's facts ("Who wrote Attention Is All You Need?")."""
        text = f'No paper titled "{title}" is in the corpus, so it cannot answer this.'
        return refused_closest(found, text, mode, missing=[f'paper titled "{title}"'])

    def _papers(self, ids: list[str]) -> list[Paper]:
        return self.catalog.get_many(ids)

    def _truncation(self, name: Entity) -> str | None:
        truncated = name.kind == "author" and self.catalog.any_truncated()
        return TRUNCATED_NOTE if truncated else None

    @staticmethod
    def _listing(
        found: SearchResult,
        papers: list[Paper],
        header: str,
        describe: Callable[[Paper], str],
        mode: str,
        footer: str | None = None,
    ) -> Answer:
        """A catalog listing: a header, one cited line per paper, and an optional closing remark."""
        lines = [header] + [f"- {describe(p)} [{i}]" for i, p in enumerate(papers, 1)]
        lines += [footer] if footer else []
        return cited(found, [Hit.of(p, i, 1.0) for i, p in enumerate(papers, 1)], "\n".join(lines), mode)


def topic_words(topic: str) -> list[str]:
    """The words a paper must mention to be on the topic, as `Catalog.with_words` matches them (at a word start):
    a plural's -s dropped, so "models" finds "model" too."""
    words = [w for w in fold(topic).split() if len(w) > 1]
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")) else w for w in words]


def _when(p: Paper) -> str:
    return p.date_text or p.date or "date unknown"


def _dated_share(dated: int, total: int) -> str:
    return "every one carries a date" if dated == total else f"{dated:,} of them carry a date"


def _shown(total: int) -> str:
    """What a listing of `total` papers adds to its header when it shows only the first LISTED_MAX."""
    return f" ({LISTED_MAX} listed here: ask about a topic to narrow them)" if total > LISTED_MAX else ""


def _role(name: Entity) -> str:
    if name.kind == "venue":
        return "in their arXiv comments"
    return "among the listed authors" if name.kind == "author" else "among the listed affiliations"
