"""Domain objects. The JSON contract of the CLI and HTTP API is these models serialized."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_serializer, model_validator


def format_authors(authors: list[str], truncated: bool) -> str:
    """'A, B, C et al.' when the page listed only the first authors."""
    return ", ".join(authors) + (" et al." if truncated and authors else "")


class Source(BaseModel):
    """Where one copy of a paper was read: page file, 1-based line, page format."""

    file: str
    line: int
    page: str
    listing_date: str | None = Field(None, description="Date header the copy was listed under (daily papers).")


class Record(BaseModel):
    """One copy of a paper as a parser read it from one page, before merging."""

    abstract: str
    source: Source
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    authors_truncated: bool = False
    affiliations: list[str] = Field(default_factory=list)
    category: str | None = None
    date: str | None = Field(None, description="ISO date: YYYY-MM-DD, or YYYY-MM when the day is unknown.")
    date_text: str | None = Field(None, description="The date as the page printed it.")
    arxiv_id: str | None = None
    comments: list[str] = Field(default_factory=list)
    score: float | None = Field(None, description="Score the page printed before the category, if any.")
    doi: str | None = None
    journal_ref: str | None = Field(None, description="Venue: arXiv journal-ref, BibTeX journal or booktitle.")
    categories: list[str] = Field(default_factory=list, description="Every category, primary first.")
    extra: dict[str, str] = Field(default_factory=dict, description="Other columns of a JSONL/CSV/BibTeX source.")


class Paper(BaseModel):
    """A distinct paper in the catalog, merged from every copy in the corpus."""

    paper_id: str
    title: str
    title_derived: bool = Field(
        False, description="True when no page had a title and it was derived from the abstract."
    )
    abstract: str
    authors: list[str] = Field(default_factory=list)
    authors_truncated: bool = Field(False, description="The page listed only the first authors ('et al.').")
    affiliations: list[str] = Field(default_factory=list)
    category: str | None = None
    date: str | None = None
    date_text: str | None = None
    year: int | None = None
    arxiv_id: str | None = None
    comments: list[str] = Field(default_factory=list)
    provenance: list[Source] = Field(default_factory=list)
    # Optional fields of the bring-your-own-corpus formats: empty for the seed pages, so older catalogs load.
    doi: str | None = None
    journal_ref: str | None = Field(None, description="Venue: arXiv journal-ref, BibTeX journal or booktitle.")
    categories: list[str] = Field(default_factory=list, description="Every category, primary first ('cs.LG').")
    extra: dict[str, str] = Field(default_factory=dict, description="Other metadata columns of the source.")

    @property
    def url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def venue_notes(self) -> list[str]:
        """Where the sources state a venue: the journal reference, then the arXiv comments."""
        return ([self.journal_ref] if self.journal_ref else []) + self.comments

    @property
    def authors_display(self) -> str:
        return format_authors(self.authors, self.authors_truncated)

    @property
    def sources(self) -> list[str]:
        return sorted({s.page for s in self.provenance})


class Chunk(BaseModel):
    chunk_id: str
    paper_id: str
    index: int
    text: str


class Evidence(BaseModel):
    chunk_id: str
    text: str
    score: float


class Hit(BaseModel):
    """A paper found for a question, with the evidence chunks that matched."""

    rank: int
    paper_id: str
    title: str
    arxiv_id: str | None
    authors: list[str]
    abstract: str
    score: float
    title_derived: bool = False
    authors_truncated: bool = False
    url: str | None = None
    year: int | None = None
    category: str | None = None
    dense_score: float | None = Field(None, description="Best cosine similarity of the paper's chunks.")
    scores: dict[str, float] = Field(default_factory=dict, description="Per-retriever contributions.")
    evidence: list[Evidence] = Field(default_factory=list)

    @property
    def snippet(self) -> str:
        """What to quote for this hit: its best evidence chunk, else the opening of the abstract."""
        return self.evidence[0].text if self.evidence else self.abstract[:300]

    @classmethod
    def of(cls, paper: Paper, rank: int, score: float, **retrieval: Any) -> Hit:
        """A hit for a catalog paper: every displayed field comes from the catalog."""
        return cls(
            rank=rank,
            paper_id=paper.paper_id,
            title=paper.title,
            arxiv_id=paper.arxiv_id,
            authors=paper.authors,
            abstract=paper.abstract,
            score=score,
            url=paper.url,
            year=paper.year,
            category=paper.category,
            title_derived=paper.title_derived,
            authors_truncated=paper.authors_truncated,
            **retrieval,
        )


Intent = Literal[
    "topical", "paper_fact", "list_by_author", "list_by_affiliation", "list_by_venue", "list_by_period",
    "comparison", "chitchat",
]  # fmt: skip
Fact = Literal["authors", "arxiv_id", "date", "venue"]
Order = Literal["newest", "oldest"]
EntityKind = Literal["paper", "author", "affiliation", "venue", "period", "category"]

CONFIDENT: float = 0.75  # an entity at least this sure may route a question (a paper fact, a listing)
# A metadata match at least this strong may be exact (the "metadata" channel: it answers past the relevance gate);
# weaker ones (a capitalised word two or three papers use, "US") only rank, in the "name" channel (rag.retrieve).
EXACT_MATCH: float = 0.5
# Listings by a name or venue. With a topic they answer the conjunction ("did Hattie Zhou write on diffusion?",
# "which NeurIPS 2020 papers are about optimization?"): the named papers are the candidates, the topic ranks and cuts.
LISTED_BY: dict[str, EntityKind] = {"list_by_author": "author", "list_by_affiliation": "affiliation",
                                    "list_by_venue": "venue"}  # fmt: skip


ENTITY_IDS_SHOWN = 100  # an entity's paper ids in JSON output: a year of a million papers is ~100k of them (1.3 MB)


class Entity(BaseModel):
    kind: EntityKind
    name: str = Field(description="As the catalog has it (author, affiliation, title) or as written (venue, period).")
    value: str = Field(description="paper id for papers, ISO prefix for periods, the name otherwise.")
    confidence: float
    paper_ids: list[str] = Field(
        default_factory=list,
        description=f"The catalog papers the entity names, in catalog order (output: the first {ENTITY_IDS_SHOWN}; "
        "a period keeps only its first ones): see paper_count.",
    )
    text: str = Field("", description="The words of the question it was read from (removed from the topic).")
    paper_count: int = Field(0, description="How many papers the entity stands for (paper_ids may list fewer).")
    ords: list[int] = Field(
        default_factory=list,
        exclude=True,
        description="Catalog positions of all its papers, ascending (names and venues; in process only): what search "
        "filters and ranks by when paper_ids lists only the first.",
    )

    @model_validator(mode="before")
    @classmethod
    def _count(cls, data: Any) -> Any:
        """paper_count defaults to the papers listed."""
        if isinstance(data, dict) and data.get("paper_count") is None:
            data = {**data, "paper_count": len(data.get("paper_ids") or [])}
        return data

    @field_serializer("paper_ids")
    def _shown(self, ids: list[str]) -> list[str]:
        return ids[:ENTITY_IDS_SHOWN]


class QueryAnalysis(BaseModel):
    """What a question asks for. Made once by `Understander.analyse`, carried on `SearchResult.analysis`."""

    question: str
    standalone: str = Field(description="What retrieval searches: the question, or its rewrite for a follow-up.")
    intent: Intent = "topical"
    facts: list[Fact] = Field(default_factory=list, description="The catalog facts asked (intent paper_fact).")
    entities: list[Entity] = Field(default_factory=list)
    topic: str = Field("", description="The subject words left once names, periods and the asking are removed.")
    many: bool = Field(False, description="Asks for every qualifying paper ('which papers ...').")
    followup: bool = False
    pinned: list[str] = Field(default_factory=list, description="Papers under discussion in the chat.")
    detail: str | None = Field(None, description="A specific detail asked for ('number of GPUs'), if any.")
    unknown_title: str | None = Field(
        None, description="A title the question cites a paper by that no paper of the corpus has ('Attention Is All "
        "You Need'): the answer says so rather than answering for another paper.",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Subjects the question rules out ('papers not about images')."
    )
    order: Order | None = Field(
        None, description="Asks for papers by date, newest or oldest first ('the latest paper on X', 'her first work')."
    )
    count: bool = Field(False, description="Asks how many papers the corpus holds, on a topic or at all.")
    rule: str = Field("", description="The ROUTES row that decided the intent (for tracing).")
    lay_terms: list[str] = Field(
        default_factory=list,
        description="Technical terms the question's everyday words stand for ('chatbots' -> 'large language "
        "models'; rag/lay.py), added to what dense search embeds.",
    )
    lay_words: list[str] = Field(
        default_factory=list,
        description="The question's everyday words that stand for those terms ('chatbot'): not a subject the corpus "
        "lacks when no abstract writes them.",
    )

    def of_kind(self, kind: EntityKind, confident: bool = True) -> list[Entity]:
        return [e for e in self.entities if e.kind == kind and (e.confidence >= CONFIDENT or not confident)]

    @property
    def conjunction(self) -> list[Entity]:
        """A listing by name or venue with a topic: the names whose papers are the only candidates (LISTED_BY)."""
        kind = LISTED_BY.get(self.intent)
        return self.of_kind(kind) if kind is not None and self.topic else []

    @property
    def paper(self) -> str | None:
        """The one paper the question is about, when it identifies one confidently."""
        papers = self.of_kind("paper")
        return papers[0].value if papers else None

    @property
    def query(self) -> str:
        """What to search for: the topic alone when a name already picked the candidates, else the standalone."""
        named = self.intent in ("list_by_author", "list_by_affiliation") and self.topic
        return self.topic if named else self.standalone

    @property
    def fact(self) -> Fact | None:
        return self.facts[0] if self.facts else None

    @property
    def periods(self) -> list[Entity]:
        return self.of_kind("period", confident=False)


class SearchResult(BaseModel):
    question: str
    standalone_question: str | None = None
    hits: list[Hit]
    timings_ms: dict[str, float] = Field(default_factory=dict)
    analysis: QueryAnalysis | None = Field(None, description="How the question was understood (rag.understand).")
    unmatched: list[str] = Field(
        default_factory=list, description="Subject words of the question that no paper of the corpus contains."
    )
    unmatched_cosine: float = Field(
        0.0,
        description="Cosine between the question's vector and its vector without the `unmatched` words: near 1, they "
        "carry little of what it asks ('stuff' in a long everyday question); 0 when there are none.",
    )
    uncovered: list[str] = Field(
        default_factory=list,
        description="Subject words of a short, specific question that a few papers use, none of them among the papers "
        "found, and application areas the question names that none of the first papers found mentions (rag/areas.py): "
        "the corpus has no paper on the question as asked ('traffic' in 'reinforcement learning for traffic signal "
        "control', 'object detection' in 'knowledge distillation for object detection').",
    )
    lay: bool = Field(
        False,
        description="A topical question in everyday words: keyword search found little to trust in it, so papers "
        "were ranked by the meaning of their whole abstract.",
    )
    query_vector: list[float] | None = Field(None, exclude=True, description="The embedded query, reused by answers.")


class Citation(BaseModel):
    n: int
    paper_id: str
    title: str
    arxiv_id: str | None
    authors: list[str]
    url: str | None
    abstract: str
    snippet: str
    score: float
    title_derived: bool = Field(False, description="No page had a title; it was derived from the abstract.")
    authors_truncated: bool = Field(False, description="The page listed only the first authors ('et al.').")

    @property
    def authors_display(self) -> str:
        return format_authors(self.authors, self.authors_truncated)

    @classmethod
    def of(cls, n: int, hit: Hit, snippet: str) -> Citation:
        """Citation number n for a retrieved hit, quoting `snippet` from it."""
        shared = set(cls.model_fields) - {"n", "snippet"}
        return cls(n=n, snippet=snippet, **hit.model_dump(include=shared))


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    papers: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list,
        max_length=100,
        description="Paper ids an assistant turn cited, in citation order (`Message.from_answer`): a follow-up's "
        "'the second one' points into them. A turn without them is read for paper titles and arXiv ids instead.",
    )

    @classmethod
    def from_answer(cls, answer: Answer) -> Message:
        """The assistant turn of an answer, with the papers it cited (or, when refused, offered as related)."""
        cited = answer.citations or answer.related
        return cls(role="assistant", content=answer.answer, papers=[c.paper_id for c in cited])


class Answer(BaseModel):
    question: str
    answer: str
    refused: bool
    mode: Literal["extractive", "llm"]
    citations: list[Citation]
    related: list[Citation] = Field(default_factory=list, description="Closest papers offered when refusing.")
    missing: list[str] = Field(
        default_factory=list,
        description="What the corpus lacks for this question: terms no paper mentions, or the detail asked for "
        "that the quoted abstracts do not state (like a search engine's 'Missing: ...'). Empty when nothing is.",
    )
    warnings: list[str] = Field(default_factory=list)
    standalone_question: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
