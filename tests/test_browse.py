"""Browsing the catalog (`rag.browse`): search, filters, paging, facets and similar papers over the real
index, and `GET /api/papers` going through the same code."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rag.browse import CATEGORY_MEANINGS, Browser, CatalogQuery
from rag.engine import Engine
from rag.errors import UserError
from rag.text import fold

LENGTH_PAPER = "What Algorithms can Transformers Learn? A Study in Length Generalization"


@pytest.fixture(scope="module")
def browser(built_engine: Engine) -> Browser:
    return Browser(built_engine)


def test_pages_cover_the_catalog_once_in_order(browser: Browser, built_engine: Engine) -> None:
    everything = built_engine.catalog.papers
    seen = []
    offset = 0
    while True:
        page = browser.page(CatalogQuery(offset=offset, limit=100))
        assert page.total == len(everything)
        if not page.papers:
            break
        seen += [p.paper_id for p in page.papers]
        offset += 100
    assert seen == [p.paper_id for p in everything]


def test_search_needs_every_word_case_and_accent_blind(browser: Browser) -> None:
    page = browser.page(CatalogQuery(q="LENGTH generalization", limit=100))
    assert 0 < page.total < 100
    assert LENGTH_PAPER in [p.title for p in page.papers]
    for p in page.papers:
        text = fold(" ".join([p.title, p.abstract, *p.authors]))
        assert "length" in text and "generalization" in text
    narrower = browser.page(CatalogQuery(q="length generalization parity", limit=100))
    assert 0 < narrower.total < page.total
    assert browser.page(CatalogQuery(q="length generalization zzzxqy")).total == 0


def test_filters_by_author_year_category_and_source(browser: Browser, built_engine: Engine) -> None:
    saremi = browser.page(CatalogQuery(author="saremi", limit=100))
    assert saremi.total >= 2 and all(any("Saremi" in a for a in p.authors) for p in saremi.papers)

    lg = browser.page(CatalogQuery(category="lg", limit=100))
    assert lg.total == sum(1 for p in built_engine.catalog.papers if p.category == "LG") > 0
    assert {p.category for p in lg.papers} == {"LG"}

    recent = browser.page(CatalogQuery(year_from=2025, limit=100))
    assert recent.total > 0 and all(p.year is not None and p.year >= 2025 for p in recent.papers)
    window = browser.page(CatalogQuery(year_from=2023, year_to=2024, limit=100))
    assert window.total > 0 and all(p.year in (2023, 2024) for p in window.papers)

    profile = browser.page(CatalogQuery(source="profile", limit=100))
    assert profile.total == sum(1 for p in built_engine.catalog.papers if "profile" in p.sources) > 0

    with pytest.raises(UserError, match="year range is empty"):
        browser.page(CatalogQuery(year_from=2025, year_to=2020))


def test_facets_explain_categories_and_pages(browser: Browser, built_engine: Engine) -> None:
    facets = browser.facets()
    assert facets.total == len(built_engine.catalog)
    cats = {f.value: f for f in facets.categories}
    assert set(cats) == {p.category for p in built_engine.catalog.papers if p.category}
    for code, facet in cats.items():
        assert facet.meaning == CATEGORY_MEANINGS[code] and facet.count > 0
    assert cats["LG"].meaning and "Machine Learning" in cats["LG"].meaning
    pages = {f.value: f for f in facets.sources}
    assert set(pages) == {s for p in built_engine.catalog.papers for s in p.sources}
    assert all(f.meaning for f in pages.values())  # every page format of the corpus is explained
    assert [f.value for f in facets.years] == sorted(f.value for f in facets.years)


def test_similar_papers_are_near_neighbours_not_the_paper_itself(browser: Browser, built_engine: Engine) -> None:
    (paper,) = [p for p in built_engine.catalog.papers if p.title == LENGTH_PAPER]
    similar = browser.similar(paper.paper_id, n=5)
    assert similar.method in ("paper-vector", "chunks")
    ids = [nb.paper.paper_id for nb in similar.papers]
    assert len(ids) == 5 and paper.paper_id not in ids and len(set(ids)) == 5
    scores = [nb.score for nb in similar.papers]
    assert scores == sorted(scores, reverse=True)
    # The nearest neighbours of a length-generalization paper are about length generalization too.
    assert sum("length" in fold(nb.paper.abstract) for nb in similar.papers[:3]) >= 2
    with pytest.raises(UserError, match="unknown paper id"):
        browser.similar("nope")


def test_api_lists_papers_through_the_browser(built_engine: Engine, browser: Browser) -> None:
    from ui.api import create_api

    with TestClient(create_api(built_engine)) as c:
        r = c.get("/api/papers", params={"q": "length generalization", "limit": 3, "offset": 1})
        body = r.json()
        expected = browser.page(CatalogQuery(q="length generalization", limit=3, offset=1))
        assert r.status_code == 200 and body["total"] == expected.total and body["offset"] == 1
        assert [p["paper_id"] for p in body["papers"]] == [p.paper_id for p in expected.papers]
        assert all("url" in p and "provenance" in p for p in body["papers"])

        assert c.get("/api/papers", params={"category": "LG", "limit": 100}).json()["total"] == (
            browser.page(CatalogQuery(category="LG")).total
        )
        assert c.get("/api/papers", params={"year": "2023-2024"}).json()["total"] == (
            browser.page(CatalogQuery(year_from=2023, year_to=2024)).total
        )
        bad = c.get("/api/papers", params={"year_from": 2025, "year_to": 2020})
        assert bad.status_code == 400 and "year range is empty" in bad.json()["error"]

        facets = c.get("/api/papers/facets").json()
        assert {f["value"] for f in facets["categories"]} >= {"LG"}

        pid = body["papers"][0]["paper_id"]
        similar = c.get(f"/api/papers/{pid}/similar", params={"n": 3}).json()
        assert similar["paper_id"] == pid and len(similar["papers"]) == 3
        assert all("score" in p and p["paper_id"] != pid for p in similar["papers"])
        assert c.get("/api/papers/nope/similar").status_code == 404
