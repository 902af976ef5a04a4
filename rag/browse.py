"""Browsing the catalog: search, filter and page through the papers, explain the facets, find similar papers.

The one place these rules live: `GET /api/papers` and the UI's Browse tab both go through `Browser`.

    browser = Browser(engine)
    page = browser.page(CatalogQuery(q="diffusion", category="LG", limit=20))
    browser.similar(page.papers[0].paper_id, n=5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from rag.errors import UserError
from rag.models import Paper
from rag.retrieve import Filters
from rag.text import fold

if TYPE_CHECKING:
    from rag.engine import Engine

# What the two-letter categories printed on profile pages stand for (arXiv's subject classes).
CATEGORY_MEANINGS = {
    "AI": "Artificial Intelligence (arXiv cs.AI)",
    "CL": "Computation and Language: NLP (arXiv cs.CL)",
    "CV": "Computer Vision and Pattern Recognition (arXiv cs.CV)",
    "LG": "Machine Learning (arXiv cs.LG)",
    "ML": "Machine Learning, statistics side (arXiv stat.ML)",
}
# The page formats of the corpus (manifest `format`), as a reader would name them.
SOURCE_MEANINGS = {
    "profile": "an author's profile page (categories, dates, authors)",
    "abstract-list": "a list of bare abstracts (no titles)",
    "arxiv-listing": "an arXiv listing (ids and comments, no titles)",
    "daily-papers": "a daily-papers digest (titles under date headers)",
    "title-list": "a long list of titles with abstracts",
}
MAX_LIMIT = 1000
SIMILAR_CHUNKS_PER_PAPER = 8  # chunks fetched per wanted neighbour when aggregating chunk hits


def category_meaning(code: str | None) -> str | None:
    return CATEGORY_MEANINGS.get(code.upper()) if code else None


class CatalogQuery(BaseModel):
    """One view of the catalog: words to search, filters, and the page wanted."""

    q: str | None = Field(
        None,
        description="Words that must each start a word of the title, abstract, authors or id ('diffus' finds "
        "'diffusion'; 'former' does not find 'transformer').",
    )
    author: str | None = Field(None, description="Substring of an author's name (case-insensitive).")
    year_from: int | None = None
    year_to: int | None = None
    category: str | None = Field(None, description="Category code, e.g. LG.")
    source: str | None = Field(None, description="Page format a copy was read from, e.g. profile.")
    offset: int = Field(0, ge=0)
    limit: int = Field(20, ge=1, le=MAX_LIMIT)

    def filters(self) -> Filters:
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise UserError(f"the year range is empty: from {self.year_from} is after to {self.year_to}")
        author = (self.author or "").strip()
        return Filters(
            authors=[author] if author else [],
            year_from=self.year_from,
            year_to=self.year_to,
            category=(self.category or "").strip() or None,
            source=(self.source or "").strip() or None,
        )

    def words(self) -> list[str]:
        return fold(self.q or "").split()


class CatalogPage(BaseModel):
    total: int = Field(description="Papers matching the query (all pages).")
    offset: int
    limit: int
    papers: list[Paper]


class Facet(BaseModel):
    value: str
    meaning: str | None = None
    count: int


class Facets(BaseModel):
    """What the catalog can be filtered by, with how many papers each value has."""

    total: int
    categories: list[Facet]
    sources: list[Facet]
    years: list[Facet]


class Neighbour(BaseModel):
    paper: Paper
    score: float = Field(description="Cosine similarity to the paper asked about.")


class Similar(BaseModel):
    paper_id: str
    method: Literal["paper-vector", "chunks"] = Field(
        description="paper-vector: one title+abstract vector per paper stored at ingest; "
        "chunks: the paper's title+abstract embedded now, chunk hits aggregated by paper."
    )
    papers: list[Neighbour]


class Browser:
    def __init__(self, engine: Engine):
        self.engine = engine

    def get(self, paper_id: str) -> Paper | None:
        return self.engine.catalog.get(paper_id)

    def page(self, query: CatalogQuery) -> CatalogPage:
        total, papers = self.engine.catalog.page(query.filters(), query.words(), query.offset, query.limit)
        return CatalogPage(total=total, offset=query.offset, limit=query.limit, papers=papers)

    def facets(self) -> Facets:
        cats, pages, years = self.engine.catalog.facet_counts()
        return Facets(
            total=len(self.engine.catalog),
            categories=[Facet(value=c, meaning=category_meaning(c), count=n) for c, n in sorted(cats.items())],
            sources=[Facet(value=s, meaning=SOURCE_MEANINGS.get(s), count=n) for s, n in sorted(pages.items())],
            years=[Facet(value=str(y), count=n) for y, n in sorted(years.items())],
        )

    def similar(self, paper_id: str, n: int = 5) -> Similar:
        """The n papers nearest to this one by embedding, best first (never the paper itself)."""
        paper = self.get(paper_id)
        if paper is None:
            raise UserError(f"unknown paper id: {paper_id}")
        index = self.engine.index
        # Prefer the per-paper vectors stored at ingest (Index.paper_vector / query_papers) when this
        # index has them; otherwise embed title+abstract now and rank papers by their best chunk.
        vector = getattr(index, "paper_vector", lambda _: None)(paper_id)
        ranked: list[tuple[str, float]]
        if vector is not None and hasattr(index, "query_papers"):
            method: Literal["paper-vector", "chunks"] = "paper-vector"
            ranked = [(pid, float(s)) for pid, s in index.query_papers(vector, n + 1)]
        else:
            method = "chunks"
            query = self.engine.embedder.embed([f"{paper.title}\n\n{paper.abstract}"])[0]
            best: dict[str, float] = {}
            for _, pid, _, score in index.query(query, (n + 1) * SIMILAR_CHUNKS_PER_PAPER):
                best[pid] = max(score, best.get(pid, -1.0))
            ranked = sorted(best.items(), key=lambda kv: -kv[1])
        out = []
        for pid, score in ranked:
            other = self.get(pid)
            if pid != paper_id and other is not None:
                out.append(Neighbour(paper=other, score=round(score, 4)))
        return Similar(paper_id=paper_id, method=method, papers=out[:n])
