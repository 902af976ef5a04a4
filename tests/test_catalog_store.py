"""The SQLite catalog (rag/catalog_store.py) and the saved BM25 index (rag/keywords.py). No model needed.

Every indexed lookup is checked against a plain scan over the papers (how the catalog answered before it had
indexes) on the real corpus; a 20k-paper synthetic catalog checks that a question's lookups are index probes
(no statement scans a table); a read-only file and concurrent threads are read; BM25 saved and loaded scores alike.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sqlite3
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rag.catalog
import rag.keywords
from rag.catalog import (
    IDS_KEPT,
    Catalog,
    _merge_copies,
    build_catalog,
    mention_pattern,
    period_prefixes,
)
from rag.catalog_store import CAPITALISED, HAS_CAPITAL, NAME_TOKEN, date_columns, date_key
from rag.keywords import KeywordIndex, SearchTexts, Tokenizer, paper_search_text, search_digest, text_key
from rag.models import Paper, Record
from rag.parse.arxiv_snapshot import parse as parse_snapshot
from rag.retrieve import Filters
from rag.text import fold
from rag.understand import Understander
from tests.conftest import CORPUS, ROOT
from tests.understand_cases import CASES
from tests.understand_heldout import HELDOUT_CASES

QUESTIONS = [c.question for c in CASES + HELDOUT_CASES] + [
    "what did Saremi write?", "papers by Jacob Springer", "Which Princeton papers are about RL?",
    "papers accepted to AISTATS 2025", "anything at NeurIPS 2024 or ICML?", "which papers came out in October 2025?",
    "papers in the CL category", "is 2502.12786 on arXiv?", "the 35 pages, 11 figures paper", "Technical report",
    "Cinematic-L1 Video Stabilization with a Log-Homography Model: who wrote it?",
]  # fmt: skip


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    return build_catalog(CORPUS)[0]


@pytest.fixture(scope="module")
def catalog(papers: list[Paper], tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The real corpus's catalog as `rag ingest` writes it, opened read-only."""
    path = tmp_path_factory.mktemp("cat") / "catalog.sqlite"
    Catalog.from_papers(papers).save(path)
    return Catalog.open(path)


# -- the scans the indexes replace (the catalog's code before it had them) -------------------------------
def scan_names(papers: list[Paper], text: str) -> list[tuple[str, str, bool, list[str]]]:
    index: dict[tuple[str, str], list[str]] = {}
    for p in papers:
        for a in p.authors:
            index.setdefault(("author", a), []).append(p.paper_id)
        for org in p.affiliations:
            index.setdefault(("affiliation", org), []).append(p.paper_id)
    q = f" {fold(text)} "
    found = []
    full = [(kind, name, ids) for (kind, name), ids in index.items() if len(fold(name)) >= 4 and f" {fold(name)} " in q]
    named = {fold(name).split()[-1] for kind, name, _ in full if kind == "author"}
    for (kind, name), ids in index.items():
        folded = fold(name)
        if len(folded) < 4:
            continue
        if (kind, name, ids) in full:
            found.append((kind, name, True, ids))
        elif kind == "author" and len(last := folded.split()[-1]) > 3 and f" {last} " in q and last not in named:
            found.append((kind, name, False, ids))
    return sorted(found, key=lambda m: (not m[2], m[0] != "author"))


def scan_periods(papers: list[Paper], text: str) -> list[tuple[str, list[str]]]:
    return [(prefix, [p.paper_id for p in papers if p.date and p.date.startswith(prefix)])
            for _, prefix in period_prefixes(text)]  # fmt: skip


def scan_venues(papers: list[Paper], name: str) -> list[str]:
    pattern = mention_pattern(name)
    return [p.paper_id for p in papers if any(pattern.search(c) for c in p.venue_notes)]


def scan_titles_named(papers: list[Paper], text: str) -> list[str]:
    folded = fold(text)
    found = []
    for p in papers:
        title = _folded_title(p.title).rstrip("…").strip()
        pos = folded.find(title) if len(title) >= (40 if p.title_derived else 12) else -1
        if pos < 0 and p.arxiv_id:
            pos = text.find(p.arxiv_id)
        if pos >= 0:
            found.append((pos, p.paper_id))
    return [pid for _, pid in sorted(found)]


_TITLES: dict[str, str] = {}


def _folded_title(title: str) -> str:
    if title not in _TITLES:
        _TITLES[title] = fold(title)
    return _TITLES[title]


def scan_tokens(papers: list[Paper]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for p in papers:
        words = set(HAS_CAPITAL.findall(f"{p.title} {p.abstract}"))
        for tok in {w for w in words if NAME_TOKEN.fullmatch(w) or CAPITALISED.fullmatch(w)}:
            out.setdefault(tok.lower(), set()).add(p.paper_id)
    return {t: sorted(ids) for t, ids in out.items()}


# -- lookups agree with the scans ---------------------------------------------------------------------------
def test_papers_round_trip_in_catalog_order(papers: list[Paper], catalog: Catalog) -> None:
    assert len(catalog) == len(papers) == 527
    assert [p.model_dump() for p in catalog.iter_papers(batch=50)] == [p.model_dump() for p in papers]
    some = [papers[400].paper_id, "nope", papers[3].paper_id, papers[400].paper_id]
    assert [p.paper_id for p in catalog.get_many(some)] == [papers[400].paper_id, papers[3].paper_id]
    assert catalog.get("nope") is None and "nope" not in catalog and papers[9].paper_id in catalog
    with_id = next(p for p in papers if p.arxiv_id)
    assert [p.paper_id for p in catalog.by_arxiv_id(with_id.arxiv_id or "")] == [with_id.paper_id]
    assert catalog.by_id[papers[5].paper_id] == papers[5]


def test_names_by_full_name_surname_and_short_form(papers: list[Paper], catalog: Catalog) -> None:
    checked = 0
    for q in QUESTIONS:
        got = [(m.kind, m.name, m.exact, m.paper_ids) for m in catalog.names_in(q)]
        assert got == scan_names(papers, q), q
        checked += bool(got)
    assert checked > 30  # the questions do name people and places
    two = Catalog([Paper(paper_id=f"p{i}", title=f"T{i}", abstract="a", authors=[a])
                   for i, a in enumerate(["Noam Razin", "Adam Razin"])])  # fmt: skip
    assert {m.name: m.exact for m in two.names_in("papers by Noam Razin")} == {"Noam Razin": True}
    assert {m.name: m.exact for m in two.names_in("papers by Razin")} == {"Noam Razin": False, "Adam Razin": False}
    saremi = catalog.names_in("what did Saremi write?")
    assert [(m.name, m.exact) for m in saremi] == [("Omid Saremi", False)] and len(saremi[0].paper_ids) >= 2
    (springer,) = [m for m in catalog.short_names_in("papers by Jacob Springer") if m.kind == "author"]
    assert springer.said == "jacob springer" and fold(springer.name) != "jacob springer"
    assert springer.paper_ids == [p.paper_id for p in papers if springer.name in p.authors]
    orgs = {m.name: m.paper_ids for m in catalog.short_names_in("from Apple") if m.kind == "affiliation"}
    assert orgs and all(fold(n).split()[0] == "apple" for n in orgs)
    princeton = catalog.names_in("Which Princeton papers are about RL?")
    assert [m.kind for m in princeton] == ["affiliation"]
    assert princeton[0].paper_ids == [p.paper_id for p in papers if princeton[0].name in p.affiliations]


def test_periods_categories_comments_venues(papers: list[Paper], catalog: Catalog) -> None:
    for q in QUESTIONS:
        assert [(p.prefix, p.paper_ids) for p in catalog.periods_in(q)] == scan_periods(papers, q), q
        for venue in catalog.venues_in(q):
            assert venue.paper_ids == scan_venues(papers, venue.name)[:IDS_KEPT], q
            assert catalog.ids_at(venue.ords.tolist()) == scan_venues(papers, venue.name), q
        q_fold = f" {fold(q)} "
        quoted = [p.paper_id for p in papers if any(len(c) > 6 and f" {fold(c)} " in q_fold for c in p.comments)]
        assert [p.paper_id for p in catalog.comments_in(q)] == quoted, q
    (october,) = catalog.periods_in("which papers came out in October 2025?")
    assert october.prefix == "2025-10" and october.paper_ids
    (venue,) = catalog.venues_in("papers accepted to AISTATS 2025")
    assert venue.name == "AISTATS 2025" and venue.paper_ids and len(venue.ords) == len(venue.paper_ids)
    for venue in ("NeurIPS", "ICML 2024", "AISTATS 2025", "ICLR"):
        assert catalog.mentioning(venue) == scan_venues(papers, venue)
    (cl,) = catalog.categories_in("papers in the CL category")
    assert cl == ("CL", [p.paper_id for p in papers if p.category == "CL"]) and cl[1]
    assert catalog.categories() == sorted({p.category for p in papers if p.category})
    assert catalog.comments_in("the 35 pages, 11 figures paper")


def test_titles_ids_tokens_and_vocabulary(papers: list[Paper], catalog: Catalog) -> None:
    for q in QUESTIONS:
        assert catalog.papers_named(q) == scan_titles_named(papers, q), q
    long_answer = " ".join(f"[{i}] {p.title} — arXiv:{p.arxiv_id or ''}" for i, p in enumerate(papers[100:130]))
    assert catalog.papers_named(long_answer) == scan_titles_named(papers, long_answer)
    assert len(catalog.papers_named(long_answer)) >= 28
    tokens = scan_tokens(papers)
    for tok, ids in tokens.items():
        n, kept = catalog.token_papers(tok)
        assert n == len(ids) and (kept == ids if n <= 3 else len(kept) >= 4), tok
    assert catalog.token_papers("tarflow")[0] == 1 and catalog.token_papers("nosuchname") == (0, [])
    vocab = {w for p in papers for w in re.findall(r"[a-z0-9]+", f"{p.title} {p.abstract}".lower())}
    assert all(catalog.uses_word(w) for w in list(vocab)[:300]) and not catalog.uses_word("whcih")
    for word in ("hallucinatons", "wasserstien", "estimaters", "hallucinationss"):  # dropped, swapped, changed, added
        assert catalog.one_edit_from(word), word
    assert not catalog.one_edit_from("toolformer") and not catalog.one_edit_from("mirostat")
    long_word = max(vocab, key=len)  # a corpus word cut short, not a name; nor is a short or unrelated word
    assert catalog.shortens(long_word[:6]) and catalog.shortens(long_word[:6] + "s"), long_word
    assert not catalog.shortens("toolformer") and not catalog.shortens("abc") and not catalog.shortens(long_word)
    titled = [p for p in papers if not p.title_derived]
    df = Counter(w for p in titled for w in set(fold(p.title).split()) if len(w) > 2)
    assert catalog.titled_count() == len(titled) and catalog.title_df(df) == dict(df)


def test_filters_match_filters_allows(papers: list[Paper], catalog: Catalog) -> None:
    cases = [
        Filters(authors=["saremi"]), Filters(year_from=2024), Filters(year_from=2023, year_to=2024),
        Filters(category="lg"), Filters(source="profile"), Filters(dates=["2025-10", "2023"]),
        Filters(paper_ids=[papers[7].paper_id, papers[2].paper_id, "nope"]),
        Filters(authors=["Zhou", "bradley"], year_to=2024, category="LG"),
    ]  # fmt: skip
    for f in cases:
        ords = catalog.matching(f)
        assert ords.tolist() == [i for i, p in enumerate(papers) if f.allows(p)] and len(ords), f
        assert catalog.ids_at(ords.tolist()) == [p.paper_id for p in papers if f.allows(p)]
        assert catalog.positions([papers[3].paper_id, "nope"]) == {papers[3].paper_id: 3}
    # A prefix that is not a year or month ("2025-1": October to December) is answered by SQL, the same way.
    odd = Filters(dates=["2025-1"], year_to=2025)
    assert catalog.matching(odd).tolist() == [i for i, p in enumerate(papers) if odd.allows(p)]
    # A catalog written before the date columns were stored computes the same ones.
    stored = catalog._date_columns()
    rows = catalog.store.rows("SELECT ord, date, year FROM papers")
    computed = date_columns(rows, len(catalog))
    assert np.array_equal(stored[0], computed["date_key"]) and np.array_equal(stored[1], computed["year"])
    assert (stored[0] > 0).sum() == catalog.dated_count() > 0
    total, page = catalog.page(Filters(category="LG"), ["diffusion"], 2, 3)
    allowed = [p for p in papers if p.category == "LG" and "diffusion" in fold(p.title + " " + p.abstract)]
    assert total == len(allowed) and [p.paper_id for p in page] == [p.paper_id for p in allowed[2:5]]
    cats, pages, years = catalog.facet_counts()
    assert cats == dict(Counter(p.category.upper() for p in papers if p.category))
    assert pages == dict(Counter(s for p in papers for s in p.sources))
    assert years == dict(Counter(p.year for p in papers if p.year is not None))


def test_understanding_is_the_same_from_memory_and_from_the_file(papers: list[Paper], catalog: Catalog) -> None:
    in_memory, on_disk = Understander(Catalog.from_papers(papers)), Understander(catalog)
    for q in QUESTIONS[::3]:
        assert in_memory.analyse(q).model_dump() == on_disk.analyse(q).model_dump(), q


# -- read-only, concurrent ---------------------------------------------------------------------------------
def test_read_only_file_is_opened_and_left_untouched(papers: list[Paper], tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "catalog.sqlite"
    Catalog.from_papers(papers[:60]).save(path)
    before = path.read_bytes()
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        cat = Catalog.open(path)
        assert len(cat) == 60 and cat.get(papers[10].paper_id) == papers[10]
        assert cat.names_in(f"papers by {papers[0].authors[0]}") if papers[0].authors else True
        with pytest.raises(sqlite3.OperationalError):  # opened read-only: even a write attempt cannot change it
            cat.store.conn().execute("DELETE FROM papers")
        assert sorted(p.name for p in folder.iterdir()) == ["catalog.sqlite"]  # no journal, no lock files
        assert path.read_bytes() == before
    finally:
        folder.chmod(0o755)


def test_concurrent_threads_each_get_their_own_connection(papers: list[Paper], catalog: Catalog) -> None:
    questions = QUESTIONS[:40]
    expected = {q: ([m.name for m in catalog.names_in(q)], catalog.papers_named(q)) for q in questions}
    memory = Catalog.from_papers(papers[:200])
    mem_expected = {q: [m.name for m in memory.names_in(q)] for q in questions}
    errors: list[BaseException] = []
    connections = set()

    def work(seed: int) -> None:
        try:
            for i in range(60):
                q = questions[(seed * 7 + i) % len(questions)]
                assert ([m.name for m in catalog.names_in(q)], catalog.papers_named(q)) == expected[q]
                assert [m.name for m in memory.names_in(q)] == mem_expected[q]
            connections.add(id(catalog.store.conn()))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(connections) == 8


# -- a bigger catalog: lookups are index probes -----------------------------------------------------------------
BIG_TABLES = ("papers", "names", "name_papers", "comments", "name_tokens", "vocabulary", "title_words", "title_keys",
              "title_df", "paper_sources")  # fmt: skip


def synthetic_papers(n: int) -> list[Paper]:
    sys.path.insert(0, str(ROOT / "bench"))
    from make_arxiv_snapshot import records

    lines = ((i, json.dumps(r)) for i, r in enumerate(records(n, seed=3), 1))
    recs = [r for r in parse_snapshot(lines, "snap.jsonl") if isinstance(r, Record)]
    out, seen = [], set()
    for r in recs:
        p = _merge_copies([r])
        if p.paper_id not in seen:
            seen.add(p.paper_id)
            out.append(p)
    return out


@pytest.fixture(scope="module")
def big() -> Catalog:
    return Catalog.from_papers(synthetic_papers(20_000))


def test_a_question_on_20k_papers_touches_indexes_only(big: Catalog) -> None:
    assert len(big) > 19_000
    understander = Understander(big)
    statements: list[str] = []
    conn = big.store.conn()
    conn.set_trace_callback(statements.append)
    try:
        for q in [*QUESTIONS[:60], "What did Omid Saremi co-author?", "papers accepted to ICML 2024"]:
            understander.analyse(q)
    finally:
        conn.set_trace_callback(None)
    assert len(statements) > 200
    plans = set()
    for sql in set(statements):
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
                plans.add(row[3])
    scans = [p for p in plans if re.match(rf"SCAN ({'|'.join(BIG_TABLES)})\b", p) or "(kind=?)" in p]
    assert not scans, scans
    assert {
        "SEARCH names USING INDEX names_folded (folded=?)",
        "SEARCH tw USING PRIMARY KEY (word=?)",
        "SEARCH name_tokens USING PRIMARY KEY (token=?)",
    } <= plans
    # A lookup reads the rows it returns and little else: count the virtual machine's steps for a question
    # naming nothing, on 20k papers and on 200.
    small = Catalog.from_papers(itertools.islice(big.iter_papers(), 200))
    steps = [vm_steps(cat, "what does the zorblax quuxification paper of Wxyz Qwerty say?") for cat in (small, big)]
    assert steps[1] <= 3 * max(steps[0], 10), steps


def vm_steps(cat: Catalog, question: str) -> int:
    """Hundreds of SQLite virtual-machine instructions run while understanding the question."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    c = cat.store.conn()
    c.set_progress_handler(tick, 100)
    Understander(cat).analyse(question)
    c.set_progress_handler(None, 0)
    return count[0]


def test_filters_on_20k_papers_use_indexes(big: Catalog) -> None:
    statements: list[str] = []
    conn = big.store.conn()
    conn.set_trace_callback(statements.append)
    ords = big.matching(Filters(year_from=2019, year_to=2019, category="cs.lg"))
    conn.set_trace_callback(None)
    ids = big.ids_at(ords.tolist())
    assert ids and all(p.year == 2019 and p.category == "cs.LG" for p in big.get_many(ids[:50]))
    (plan,) = {row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statements[0]}")} - {"USE TEMP B-TREE FOR ORDER BY"}
    assert "USING INDEX" in plan
    # A period names thousands of papers at 100k: it keeps their count and its first ids in catalog order, read
    # from the date index alone, not the wide rows.
    statements.clear()
    conn.set_trace_callback(statements.append)
    (period,) = big.periods_in("papers from 2019")
    conn.set_trace_callback(None)
    in_2019 = big.matching(Filters(dates=["2019"]))
    assert period.count == len(in_2019) > IDS_KEPT
    assert period.paper_ids == big.ids_at(in_2019[:IDS_KEPT].tolist())
    plans = {row[3] for sql in statements for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")}
    assert any("COVERING INDEX papers_date" in p for p in plans), plans


def test_a_prolific_name_keeps_every_position_and_its_first_ids(big: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """An author or venue with hundreds of papers (at 1M, the synthetic corpus gives real names thousands): the
    match holds the catalog positions of all their papers and the ids of the first IDS_KEPT; the entity counts all
    of them and its JSON lists those ids only. (IDS_KEPT lowered: at 20k papers the most prolific has ~80.)"""
    kept = 20
    monkeypatch.setattr(rag.catalog, "IDS_KEPT", kept)
    papers = list(big.iter_papers())  # in catalog order
    name, n = Counter(a for p in papers for a in p.authors).most_common(1)[0]
    every = [o for o, p in enumerate(papers) if name in p.authors]
    assert n == len(every) > kept
    (match,) = [m for m in big.names_in(f"What did {name} co-author?") if m.name == name]
    assert match.ords.tolist() == every and match.paper_ids == big.ids_at(every[:kept])
    analysis = Understander(big).analyse(f"What did {name} co-author?")
    (entity,) = [e for e in analysis.entities if e.name == name]
    assert entity.ords == every and entity.paper_count == len(every)
    dumped = json.loads(entity.model_dump_json())
    assert "ords" not in dumped and dumped["paper_ids"] == match.paper_ids
    assert big.positions_of(entity).tolist() == every
    assert big.positions_of(entity.model_copy(update={"ords": []})).tolist() == every[:kept]  # ids only
    in_2019 = big.matching(Filters(dates=["2019"]))
    mine = np.asarray(every)
    assert 0 < len(big.dated_among(mine, ["2019"])) < len(mine)
    assert big.dated_among(mine, ["2019"]).tolist() == mine[np.isin(mine, in_2019)].tolist()
    (icml,) = big.venues_in("papers accepted to ICML 2024")
    assert big.ids_at(icml.ords.tolist()) == big.mentioning("ICML 2024") and len(icml.ords) > kept
    assert icml.paper_ids == big.mentioning("ICML 2024")[:kept]


@pytest.mark.parametrize(
    "f",
    [Filters(dates=["2019"]), Filters(dates=["2020-03", "2017"]), Filters(year_from=2018, year_to=2019),
     Filters(year_to=2016), Filters(dates=["2019"], year_from=2020)],
)  # fmt: skip
def test_date_filters_from_the_date_columns_match_sql(big: Catalog, f: Filters) -> None:
    where, args = big._where(f)
    want = [r[0] for r in big.store.rows(f"SELECT ord FROM papers WHERE {where} ORDER BY ord", args)]
    assert big.matching(f).tolist() == want
    assert want or f.year_from == 2020  # (the last: no paper is both)


AUTHOR_TEXTS = ["saremi", "Zhou", "omid", "n. raz", "an", "z", "e m", 'a"b', "*", "ö", "zzqx", "bradley"]


def test_the_author_filter_finds_by_trigrams_what_a_scan_finds(big: Catalog) -> None:
    """`--author TEXT`: names containing the text in any case. The names' trigram index gives the candidates for a
    text of 3+ characters; the result is the scan's (a catalog written without the index), and no name is read
    whole for it."""
    papers = list(big.iter_papers())
    for text in AUTHOR_TEXTS:
        want = [o for o, p in enumerate(papers) if any(text.lower() in a.lower() for a in p.authors)]
        assert big.matching(Filters(authors=[text])).tolist() == want, text
        big._optional["name_grams"] = False
        try:
            assert big.matching(Filters(authors=[text])).tolist() == want, text
        finally:
            big._optional.pop("name_grams")
    assert big.matching(Filters(authors=["saremi", "bradley"])).size > big.matching(Filters(authors=["saremi"])).size
    statements: list[str] = []
    conn = big.store.conn()
    conn.set_trace_callback(statements.append)
    big._author_ids(["saremi"])
    conn.set_trace_callback(None)
    asked = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]  # not FTS5's own statements
    plans = {row[3] for sql in asked for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")}
    assert not any(p.startswith("SCAN names") for p in plans) and any("name_grams" in p for p in plans), plans


def test_a_common_period_keeps_the_same_first_papers_read_in_catalog_order(
    big: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PERIOD_SORTED_MAX papers the first ones are read from the rows in catalog order: the same ones."""
    sorted_by_index = big.periods_in("papers from 2019") + big.periods_in("from March 2020")
    monkeypatch.setattr("rag.catalog.PERIOD_SORTED_MAX", 0)
    assert big.periods_in("papers from 2019") + big.periods_in("from March 2020") == sorted_by_index


# -- browse word search: the word index and the scan it replaces -------------------------------------------------
BROWSE_QUERIES = ["diffusion", "length generalization", "diffus", "in-context learning", "chain of thought", "former",
                  "transformer", "gen", "net", "llm", "rl", "x", "gpt-4", "o(n)", "2412.06329", "saremi", "zero-shot",
                  "attention is all", "e", "3d", "Ünïcode naïve", "zzqx"]  # fmt: skip


def scan_page(cat: Catalog, f: Filters, words: list[str], offset: int = 0, limit: int = 10**6) -> tuple[int, list[str]]:
    """`Catalog.page` by reading every paper's text, as a catalog without the word index answers."""
    cat._optional["paper_words"] = False
    try:
        total, papers = cat.page(f, words, offset, limit)
    finally:
        cat._optional.pop("paper_words")
    return total, [p.paper_id for p in papers]


def index_page(
    cat: Catalog, f: Filters, words: list[str], offset: int = 0, limit: int = 10**6
) -> tuple[int, list[str]]:
    """`Catalog.page` through the word index, when the catalog has it."""
    total, papers = cat.page(f, words, offset, limit)
    return total, [p.paper_id for p in papers]


def at_token_starts(cat: Catalog, words: list[str], ids: list[str]) -> list[str]:
    """Of these papers, those whose search text has, for every (folded) word, a word starting with it."""
    hay = dict(cat.store.rows_in("SELECT paper_id, haystack FROM papers WHERE paper_id IN ({})", ids))
    return [pid for pid in ids if all(any(t.startswith(w) for t in hay[pid].split()) for w in words)]


@pytest.mark.parametrize("f", [Filters(), Filters(category="LG", year_from=2024)])
def test_browse_words_by_index_are_the_scan_at_word_starts(papers: list[Paper], catalog: Catalog, f: Filters) -> None:
    assert catalog.has("paper_words")
    differ = 0
    for q in BROWSE_QUERIES:
        words = fold(q).split()
        scanned = scan_page(catalog, f, words)
        want = at_token_starts(catalog, words, scanned[1])
        assert index_page(catalog, f, words) == (len(want), want), q
        differ += want != scanned[1]
        # A page from the middle is that part of the same list.
        assert index_page(catalog, f, words, 2, 3) == (len(want), want[2:5]), q
    assert differ >= 3  # "former", "net", "x" are inside longer words of this corpus
    # Whole words, their prefixes and phrases split by folding are found as the scan finds them.
    for q in ["diffusion", "diffus", "length generalization", "in-context learning", "chain of thought", "saremi"]:
        words = fold(q).split()
        assert index_page(catalog, Filters(), words) == scan_page(catalog, Filters(), words) != (0, []), q


@pytest.mark.parametrize("indexed", [True, False], ids=["index-for-filtered-too", "no-index-lookup"])
def test_the_index_and_reading_the_papers_give_the_same_answer(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, indexed: bool
) -> None:
    """Candidates from the index, or every allowed paper read and each word tested at a word start: the same."""
    cases = [(f, fold(q).split()) for q in BROWSE_QUERIES for f in (Filters(), Filters(category="LG", year_from=2024))]
    want = [index_page(catalog, f, words, 1, 7) for f, words in cases]
    if indexed:
        monkeypatch.setattr("rag.catalog.FILTERED_READ_MAX", 0)
    else:
        monkeypatch.setattr("rag.catalog.word_terms", lambda w: [])
    statements: list[str] = []
    catalog.store.conn().set_trace_callback(statements.append)
    try:
        assert [index_page(catalog, f, words, 1, 7) for f, words in cases] == want
    finally:
        catalog.store.conn().set_trace_callback(None)
    assert any("paper_words MATCH" in sql for sql in statements) == indexed


def test_a_word_inside_a_longer_word_is_no_longer_found(catalog: Catalog) -> None:
    total, ids = index_page(catalog, Filters(), ["former"])
    scanned, scanned_ids = scan_page(catalog, Filters(), ["former"])
    assert 0 < total < scanned and set(ids) < set(scanned_ids)
    texts = dict(catalog.store.rows("SELECT paper_id, haystack FROM papers"))
    assert all(re.search(r"\bformer", texts[pid]) for pid in ids)
    lost = [pid for pid in scanned_ids if pid not in ids]
    assert all("transformer" in texts[pid] and not re.search(r"\bformer", texts[pid]) for pid in lost)
    # A prefix is found: "transf" finds every "transformer" paper.
    assert set(index_page(catalog, Filters(), ["transformer"])[1]) <= set(index_page(catalog, Filters(), ["transf"])[1])


def test_a_catalog_without_the_word_index_scans(papers: list[Paper], catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Catalog.from_papers(papers).save(path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE paper_words")
    old = Catalog.open(path)
    assert not old.has("paper_words")
    for q in ["former", "diffusion", "length generalization"]:
        assert index_page(old, Filters(), q.split()) == scan_page(catalog, Filters(), q.split()), q
    assert index_page(old, Filters(), ["former"]) != index_page(catalog, Filters(), ["former"])
    # What a question's topic counts is tested at word starts here too, as with the index.
    for q in ["former", "diffusion model", "length generalization"]:
        assert old.ids_at(old.with_words(q.split())) == index_page(catalog, Filters(), q.split())[1], q


def test_a_word_the_index_tokenizer_splits_is_scanned(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """A term the index cannot look up alone (a letter newer than SQLite's tokenizer splits a word): the scan."""
    want = index_page(catalog, Filters(), ["former"])
    monkeypatch.setattr("rag.catalog.word_terms", lambda w: [f'"{w} {w}"*'])  # a phrase: detail=none refuses it
    assert index_page(catalog, Filters(), ["former"]) == want != scan_page(catalog, Filters(), ["former"])


HOSTILE = ['"', "*", "NEAR", "near", "AND", "and", "OR", "NOT", "(", ")", "(diffusion)", "diffusion*", '"diffusion',
           "NEAR(diffusion model)", "diffusion AND model", "^diffusion", "col:diffusion", "-", "'", "''", "\\", "%",
           "{diffusion}", "a\"b", "diffusion\x00", "±", "NEAR/2"]  # fmt: skip


@pytest.mark.parametrize("word", HOSTILE)
def test_hostile_words_match_literally(catalog: Catalog, word: str) -> None:
    """Query syntax is never obeyed: a word is looked for as written (with "diffusion", as the one word)."""
    for words in ([word], ["diffusion", word], fold(word).split()):
        total, ids = index_page(catalog, Filters(), words)
        scanned = scan_page(catalog, Filters(), words)
        assert (total, ids) == (len(want := at_token_starts(catalog, words, scanned[1])), want), words
        if any(not w.isalnum() or w != w.lower() for w in words):
            assert total == scanned[0] == 0  # the folded text has no such character, nor a capital
    assert index_page(catalog, Filters(), ["near"])[0] > 0 and index_page(catalog, Filters(), ["and"])[0] > 500


def test_browse_words_on_20k_papers_read_the_candidates_only(big: Catalog) -> None:
    statements: list[str] = []
    conn = big.store.conn()
    conn.set_trace_callback(statements.append)
    try:
        for f in (Filters(), Filters(year_from=2019), Filters(source="arxiv-snapshot")):
            assert index_page(big, f, ["length", "generaliz"], 0, 20)[0] > 0
    finally:
        conn.set_trace_callback(None)
    assert len([sql for sql in statements if "paper_words MATCH" in sql]) == 3, statements  # once a page
    ours = [sql for sql in statements if sql.startswith("SELECT") and "sqlite_master" not in sql]
    plans = {row[3] for sql in ours for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")}
    assert not [p for p in plans if re.match(r"SCAN papers\b", p)], plans
    assert any(p.startswith("SCAN paper_words VIRTUAL TABLE") for p in plans), plans
    assert "SEARCH papers USING INTEGER PRIMARY KEY (rowid=?)" in plans, plans  # the candidates' rows only
    # The same answers as the scan's, at word starts; a word found only inside longer words is not found.
    for words in (["length", "generaliz"], ["diffusion"], ["rl"]):
        scanned = scan_page(big, Filters(), words)
        want = at_token_starts(big, words, scanned[1])
        assert index_page(big, Filters(), words) == (len(want), want)
    assert index_page(big, Filters(), ["rl"])[0] < scan_page(big, Filters(), ["rl"])[0]


# -- BM25 saved and loaded ---------------------------------------------------------------------------------------
def test_bm25_built_in_batches_is_bm25s_own_index(papers: list[Paper]) -> None:
    """KeywordIndex.build tokenizes a batch at a time and fills the score matrix from a spill: every term's column
    (documents and float32 scores) is bit for bit the one bm25s's own `index` builds from every token at once."""
    import bm25s

    tokenize = Tokenizer()
    texts = [paper_search_text(p) for p in papers]
    reference = bm25s.BM25()
    reference.index(tokenize(texts), show_progress=False)
    built: Any = KeywordIndex.build(iter(texts), tokenize, batch=37)._bm25
    assert built.scores["num_docs"] == reference.scores["num_docs"] == len(papers)
    assert set(built.vocab_dict) == set(reference.vocab_dict)

    def column(bm25: Any, term: str) -> tuple[list[int], bytes]:
        indptr, i = bm25.scores["indptr"], bm25.vocab_dict[term]
        if i + 1 >= len(indptr):  # bm25s's empty token: no column
            return [], b""
        a, b = int(indptr[i]), int(indptr[i + 1])
        return bm25.scores["indices"][a:b].tolist(), bm25.scores["data"][a:b].astype(np.float32).tobytes()

    for term in reference.vocab_dict:
        assert column(built, term) == column(reference, term), term


def test_bm25_round_trip_scores_and_idf(papers: list[Paper], tmp_path: Path) -> None:
    tokenize = Tokenizer()
    texts = [paper_search_text(p) for p in papers]
    built = KeywordIndex.build(texts, tokenize)
    built.save(tmp_path / "bm25", "digest-1")
    loaded = KeywordIndex.open(tmp_path / "bm25")
    assert KeywordIndex.digest_of(tmp_path / "bm25") == "digest-1" and loaded.n_docs == len(papers)
    mask = np.array([i % 3 != 0 for i in range(len(papers))], dtype=np.float32)
    for q in ["length generalization transformers", "Omid Saremi", "TarFlow normalizing flows", "2502.12786",
              "quantization of large language models on phones", "zzzunknownword diffusion"]:  # fmt: skip
        terms = tokenize([q])[0]
        a, b = built.term_ids(terms), loaded.term_ids(terms)
        assert a == b and a
        for m in (None, mask):
            da, sa = built.top([a[t] for t in terms if t in a], 20, m)
            db, sb = loaded.top([b[t] for t in terms if t in b], 20, m)
            assert da.tolist() == db.tolist() and sa.tolist() == sb.tolist()
            # the top k of a full sort of every document's score (ties in document order), scoring ones only
            bm25: Any = loaded._bm25
            full = np.asarray(bm25.get_scores([b[t] for t in terms if t in b], weight_mask=m))
            assert len(full) == len(papers)
            want = [d for d in sorted(range(len(full)), key=lambda d: (-full[d], d)) if full[d] > 0][:20]
            assert db.tolist() == want
            assert loaded.top([b[t] for t in terms if t in b], 0, m)[0].size == 0
    # idf from the saved matrix = idf from counting each term's documents
    docs = tokenize(texts)
    df = Counter(t for d in docs for t in set(d))
    n = len(papers)
    columns = loaded.term_ids(df)
    assert len(columns) == len(df)
    for t, c in df.items():
        assert math.isclose(loaded.idf(columns[t]), math.log(1 + (n - c + 0.5) / (c + 0.5)), rel_tol=1e-9), t
    KeywordIndex.reuse(tmp_path / "bm25", tmp_path / "again")
    again = KeywordIndex.open(tmp_path / "again")
    assert again.term_ids(["transform"]) == loaded.term_ids(["transform"])


@pytest.mark.parametrize(
    ("question", "intent", "header"),
    [("papers from 2019", "list_by_period", "paper(s) dated 2019 (10 listed here"),
     ("what did Siddartha Devic write?", "list_by_author", "paper(s) with Siddartha Devic among the listed authors (10 "
                                                           "listed here")],
)  # fmt: skip
def test_a_listing_shows_its_first_papers_and_says_how_many(
    big: Catalog, monkeypatch: pytest.MonkeyPatch, question: str, intent: str, header: str
) -> None:
    """A year of a million papers is ~100k of them: a listing shows the first LISTED_MAX, cited, and its header says
    how many there are (here LISTED_MAX is 10, on 20k papers)."""
    from rag.catalog_answers import CatalogAnswers
    from rag.models import SearchResult

    monkeypatch.setattr("rag.catalog_answers.LISTED_MAX", 10)
    analysis = Understander(big).analyse(question)
    assert analysis.intent == intent
    entity = next(e for e in analysis.entities if e.kind in ("period", "author"))  # the one the listing is of
    answer = CatalogAnswers(big).answer(SearchResult(question=question, hits=[], analysis=analysis), [], "extractive")
    assert answer is not None and not answer.refused
    assert f"holds {entity.paper_count:,} {header}" in answer.answer and entity.paper_count > 10
    assert len(answer.citations) == 10 and answer.answer.count("\n- ") == 10
    assert [c.paper_id for c in answer.citations] == entity.paper_ids[:10]  # the first ones, in catalog order


def bm25_columns(index: KeywordIndex) -> dict[str, tuple[list[int], bytes]]:
    """term -> its column of the score matrix: (documents, float32 scores as bytes); bm25s's empty token: ([], b"")."""
    bm25: Any = index._bm25
    indptr, out = bm25.scores["indptr"], {}
    for term, i in bm25.vocab_dict.items():
        a, b = (int(indptr[i]), int(indptr[i + 1])) if i + 1 < len(indptr) else (0, 0)
        out[term] = (bm25.scores["indices"][a:b].tolist(), bm25.scores["data"][a:b].astype(np.float32).tobytes())
    return out


def saved_counts(folder: Path) -> list[tuple[bytes, dict[str, int]]]:
    """Each document's (key, {term: count}) from an index's saved counts."""
    ptr, terms, tf, keys = (np.load(folder / name) for name in rag.keywords.COUNTS)
    names = {i: t for t, i in sqlite3.connect(folder / "terms.sqlite").execute("SELECT term, id FROM terms")}
    out = []
    for d in range(len(ptr) - 1):
        span = slice(ptr[d], ptr[d + 1])
        out.append((bytes(keys[d]), {names[int(t)]: int(c) for t, c in zip(terms[span], tf[span], strict=True)}))
    return out


def test_bm25_updated_from_saved_counts_is_the_full_build(papers: list[Paper], tmp_path: Path) -> None:
    """KeywordIndex.update gives the index `build` gives the new corpus, term by term, bit for bit, tokenizing only
    the texts the previous index did not have: papers removed, changed and added (one with the text of a kept
    paper), a term only a removed paper used gone from the vocabulary, a term only a new text uses in it."""
    tokenize = Tokenizer()
    base = [paper_search_text(p) for p in papers]
    old = [*base[:5], base[5] + " Quuxgoneword", *base[6:]]  # only document 5 uses "quuxgoneword"
    new = [t for i, t in enumerate(base) if i not in (3, 10, 11)]  # removed: 3, 10, 11; document 5 back to base
    new[6] += " Blorptnewword"  # base[7], changed
    new.insert(20, "A paper nobody saw before, on Zyxwvnovel transport")
    new.append(base[40])  # a new paper whose text an old one has: its counts are reused
    built_old = KeywordIndex.build(old, tokenize, batch=37, counts=tmp_path / "c-old")
    built_old.save(tmp_path / "old", "d-old")
    assert KeywordIndex.updatable(tmp_path / "old")

    asked: list[int] = []

    def texts_at(ords: list[int]) -> list[str]:
        asked.extend(ords)
        return [new[o] for o in ords]

    keys = np.frombuffer(b"".join(text_key(t) for t in new), dtype="S16")
    updated, tokenized = KeywordIndex.update(tmp_path / "old", keys, texts_at, tokenize, batch=37,
                                             counts=tmp_path / "c-new")  # fmt: skip
    full = KeywordIndex.build(new, tokenize, batch=1000, counts=tmp_path / "c-full")
    assert sorted(asked) == [4, 6, 20] and tokenized == 3  # old 5 (its text changed back), old 7, the novel one
    assert updated.n_docs == full.n_docs == len(new)
    got, want = bm25_columns(updated), bm25_columns(full)
    assert got.keys() == want.keys() and got == want
    assert "quuxgoneword" in bm25_columns(built_old) and "quuxgoneword" not in got
    assert got[tokenize(["Blorptnewword"])[0][0]][0] == [6] and got["zyxwvnovel"][0] == [20]
    for term in tokenize(["transport diffusion transformers Quuxgoneword"])[0]:
        a, b = updated.term_ids([term]), full.term_ids([term])
        assert a.keys() == b.keys()
        if a:
            assert updated.idf(a[term]) == full.idf(b[term])

    # Saved and opened: the vanished term is not in terms.sqlite; the counts are the full build's, term by term.
    updated.save(tmp_path / "new", "d-new")
    full.save(tmp_path / "full", "d-new")
    opened = KeywordIndex.open(tmp_path / "new")
    assert opened.term_ids(["quuxgoneword"]) == {} and opened.term_ids(["zyxwvnovel"])
    assert saved_counts(tmp_path / "new") == saved_counts(tmp_path / "full")
    assert not (tmp_path / "c-new").exists()  # moved into the index

    # And back: an update from an updated index gives the old corpus's full build.
    back, n = KeywordIndex.update(tmp_path / "new", np.frombuffer(b"".join(map(text_key, old)), dtype="S16"),
                                  lambda ords: [old[o] for o in ords], tokenize)  # fmt: skip
    assert n == 5 and bm25_columns(back) == bm25_columns(built_old)


def test_bm25_update_needs_saved_counts_of_this_tokenizer(
    papers: list[Paper], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenize = Tokenizer()
    texts = [paper_search_text(p) for p in papers[:30]]
    KeywordIndex.build(texts, tokenize).save(tmp_path / "plain", "d")  # counts not kept: an index of an older version
    KeywordIndex.build(texts, tokenize, counts=tmp_path / "c").save(tmp_path / "counted", "d")
    assert not KeywordIndex.updatable(tmp_path / "plain") and KeywordIndex.updatable(tmp_path / "counted")
    monkeypatch.setattr(rag.keywords, "TOKENIZER", "bm25s 9.9, PyStemmer 9.9, english")
    assert not KeywordIndex.updatable(tmp_path / "counted")
    # An empty corpus saves (empty) counts that an update starts from.
    KeywordIndex.build([], tokenize, counts=tmp_path / "c0").save(tmp_path / "empty", "e")
    monkeypatch.undo()
    grown, n = KeywordIndex.update(tmp_path / "empty", np.frombuffer(b"".join(map(text_key, texts)), dtype="S16"),
                                   lambda ords: [texts[o] for o in ords], tokenize)  # fmt: skip
    assert n == 30 and bm25_columns(grown) == bm25_columns(KeywordIndex.build(texts, tokenize))


def test_search_texts_digest_is_search_digest(papers: list[Paper]) -> None:
    tally = SearchTexts()
    for p in papers:
        tally.add(p)
    assert tally.hexdigest() == search_digest(papers)
    assert tally.keys().tolist() == [text_key(paper_search_text(p)).rstrip(b"\0") for p in papers]


def test_papers_with_every_word_are_the_browse_page_of_those_words(catalog: Catalog) -> None:
    """`with_words` (what a question's topic counts) finds what browsing the same words finds, index or not."""
    for q in [*BROWSE_QUERIES, "diffusion model", "length generalization", "in-context learning", "zzqx"]:
        words = fold(q).split()
        total, ids = index_page(catalog, Filters(), words)
        assert catalog.ids_at(catalog.with_words(words)) == ids and total == len(ids), q
    assert len(catalog.with_words(["diffusion", "model"])) > 20 and not len(catalog.with_words([]))


@pytest.mark.parametrize("which", ["seed corpus, mostly undated", "20k papers, all dated"])
def test_papers_by_date_newest_or_oldest_first_and_the_undated_counted(
    catalog: Catalog, big: Catalog, which: str
) -> None:
    big = catalog if which.startswith("seed") else big
    keys = {o: p.date for o, p in enumerate(big.iter_papers())}
    some = np.arange(0, len(big), 3 if len(big) < 1000 else 7, dtype=np.int64)
    assert (sum(1 for d in keys.values() if not d) > len(keys) / 2) == which.startswith("seed")
    for newest in (True, False):
        dated, undated = big.by_date(some, newest)
        dates = [keys[o] for o in dated.tolist()]
        assert all(dates) and undated == sum(1 for o in some.tolist() if not keys[o])
        as_keys = [date_key(d) for d in dates]
        assert as_keys == sorted(as_keys, reverse=newest) and len(dated) + undated == len(some)
    everything, undated = big.by_date()
    assert len(everything) + undated == len(big) and date_key(keys[int(everything[0])]) == max(
        date_key(d) for d in keys.values()
    )
