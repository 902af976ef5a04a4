"""The query-understanding stage on a table of phrasings written independently of it
(tests/understand_cases.py): intent, fact, the names acted on, topic and follow-up. No index needed."""

from __future__ import annotations

import pytest

from rag.catalog import Catalog, build_catalog
from rag.models import CONFIDENT, Entity, Message, QueryAnalysis
from rag.understand import ROUTES, Understander
from tests.conftest import CORPUS
from tests.understand_cases import ADVERSARIAL, CASES, FOLLOWUPS, Case


def catalog_understander() -> Understander:
    papers, _ = build_catalog(CORPUS)
    return Understander(Catalog(papers))


@pytest.fixture(scope="module")
def understander() -> Understander:
    return catalog_understander()


def acts_on(entity: Entity, name: str) -> bool:
    name = name.lower()
    return entity.confidence >= CONFIDENT and (
        name in entity.name.lower() or name == entity.value.lower() or name in entity.text.lower()
        or any(name == pid for pid in entity.paper_ids)
    )  # fmt: skip


def analyse(understander: Understander, case: Case) -> QueryAnalysis:
    history = [Message.model_validate(t) for t in case.history or []]
    return understander.analyse(case.question, history)


def test_the_table_is_big_and_adversarial() -> None:
    assert len(CASES) >= 150 and len(ADVERSARIAL) >= 40 and len(FOLLOWUPS) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.question[:60])
def test_understanding(understander: Understander, case: Case) -> None:
    a = analyse(understander, case)
    got = (a.intent, a.fact if a.intent == "paper_fact" else None, a.followup)
    assert got == (case.intent, case.fact, case.followup), a.rule
    for name in case.names:
        assert any(acts_on(e, name) for e in a.entities), (name, [(e.kind, e.name, e.confidence) for e in a.entities])
    if case.intent != "chitchat":
        assert bool(a.topic) == case.has_topic, a.topic


def test_routes_are_a_table_ending_in_topical_by_default(understander: Understander) -> None:
    assert next(r.intent for r in ROUTES) == "chitchat"
    a = understander.analyse("Which arXiv papers study diffusion models?")
    assert a.intent == "topical" and a.many and a.topic == "diffusion models"
