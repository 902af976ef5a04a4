"""The eval harness: metric arithmetic, the baseline gate, and a real run over the real index."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rag import evaluate as ev
from rag.cli import main
from rag.engine import Engine


def test_retrieval_metrics_by_hand() -> None:
    ranked = ["a", "x", "b", "y", "z", "c"]
    gold = {"a", "b", "c"}
    assert ev.hit_at_k(ranked, gold, 5) == 1.0 and ev.hit_at_k(["x", "y"], gold, 5) == 0.0
    assert ev.reciprocal_rank(["x", "b"], gold) == 0.5 and ev.reciprocal_rank(["x"], gold) == 0.0
    assert ev.recall_at_k(ranked, gold, 5) == pytest.approx(2 / 3)
    dcg = 1 + 1 / math.log2(4) + 1 / math.log2(7)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ev.ndcg_at_k(ranked, gold) == pytest.approx(dcg / ideal)
    assert ev.citation_scores(["a", "x"], {"a", "b"}) == (0.5, 0.5)
    assert ev.citation_scores([], {"a"}) == (0.0, 0.0)
    assert ev.keyword_recall("The RASP conjecture", ["rasp", "parity"]) == 0.5
    assert ev.percentile([1, 2, 3, 4, 100], 0.5) == 3


def summary(hit: float, refusal: float, passed: dict[str, bool]) -> dict:
    return {"overall": {"hit_at_5": hit, "refusal_accuracy": refusal, "false_refusal_rate": 0.0}, "passed": passed}


def test_baseline_gate_names_drops_and_flips() -> None:
    base = summary(0.90, 0.6, {"q1": True, "q2": False, "q3": True})
    results = [{"id": "q1", "passed": False}, {"id": "q2", "passed": True}, {"id": "q3", "passed": True}]
    tol = {"hit_at_5": 0.02, "refusal_accuracy": 0.1}
    _, failures, to_fail, to_pass = ev.compare_to_baseline(summary(0.85, 0.6, {}), results, base, tol)
    assert failures and "hit_at_5" in failures[0] and to_fail == ["q1"] and to_pass == ["q2"]
    _, failures, _, _ = ev.compare_to_baseline(summary(0.89, 0.55, {}), results, base, tol)
    assert failures == []  # within tolerance


def test_questions_added_since_the_baseline_are_not_gated() -> None:
    def result(qid: str, hit: float) -> dict:
        return {"id": qid, "kind": "fact", "split": "dev", "passed": hit == 1.0, "timings_ms": {},
                "metrics": {"hit_at_5": hit}}  # fmt: skip

    old = [result("q1", 1.0), result("q2", 1.0)]
    base = {**ev.summarize(old), "passed": {r["id"]: r["passed"] for r in old}}
    now = [*old, result("q3", 0.0)]  # a new, harder question: the split's mean falls from 1.0 to 0.67
    lines, failures, to_fail, _ = ev.compare_to_baseline(ev.summarize(now), now, base, {"hit_at_5": 0.02})
    assert failures == [] and to_fail == [] and any("q3" in line for line in lines)
    worse = [result("q1", 0.0), result("q2", 1.0), result("q3", 1.0)]  # a baseline question that now fails
    _, failures, to_fail, _ = ev.compare_to_baseline(ev.summarize(worse), worse, base, {"hit_at_5": 0.02})
    assert failures and "hit_at_5" in failures[0] and to_fail == ["q1"]


def test_bad_golden_lines_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "g.jsonl"
    bad.write_text('{"question": "ok?", "gold": []}\n{"gold": ["x"]}\n')
    with pytest.raises(ev.UserError, match=r"g\.jsonl:2"):
        ev.load_golden(bad)


def golden_file(engine: Engine, path: Path) -> Path:
    cfg = next(p for p in engine.catalog.papers if p.title.startswith("Classifier-Free Guidance"))
    saremi = [p.paper_id for p in engine.catalog.papers if "Omid Saremi" in p.authors]
    # A multi-paper question whose gold is what k=5 cites minus what k=1 cites: k=1 must flip it to a failure.
    multi = "Which papers study length generalization in transformers?"
    wide = [c.paper_id for c in engine.ask(multi, k=5).citations]
    narrow = {c.paper_id for c in engine.ask(multi, k=1).citations}
    assert len(wide) >= 2 and len(narrow) == 1
    rows = [
        {"id": "a", "kind": "fact", "question": "Is classifier-free guidance a predictor-corrector method?",
         "gold": [cfg.paper_id], "keywords": ["predictor-corrector"]},
        {"id": "b", "kind": "metadata", "question": "Which papers did Omid Saremi co-author?", "gold": saremi,
         "keywords": ["Vanishing Gradients"]},
        {"id": "m", "kind": "multi", "question": multi, "gold": [p for p in wide if p not in narrow]},
        {"id": "c", "kind": "unanswerable", "question": "What is a good recipe for sourdough bread?", "gold": [],
         "refuse": True},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_run_writes_the_report_and_gates(built_engine: Engine, tmp_path: Path, capsys) -> None:
    data = str(built_engine.settings.data_dir)
    golden = golden_file(built_engine, tmp_path / "golden.jsonl")
    out = tmp_path / "run"
    code = main(["eval", "--data-dir", data, "--golden", str(golden), "--out", str(out), "--quiet",
                 "--retrievers", "hybrid,bm25", "--save-baseline", str(tmp_path / "base.json")])  # fmt: skip
    assert code == 0
    assert {"results.jsonl", "summary.json", "report.md", "metrics_by_kind.png", "latency.png"} <= {
        p.name for p in out.iterdir()
    }
    s = json.loads((out / "summary.json").read_text())
    assert s["overall"]["questions"] == 4 and s["overall"]["passed"] == 4
    assert s["overall"]["hit_at_5"] == 1.0 and s["overall"]["refusal_accuracy"] == 1.0
    assert s["run"]["index_identity"]["embedding_model"] == "all-MiniLM-L6-v2" and s["run"]["corpus_hash"]
    assert set(s["retrievers"]) == {"hybrid", "bm25"}
    assert "| hybrid | hit_at_5 |" in (out / "report.md").read_text()

    # A deliberately worse setting: one paper per answer loses the multi-paper citations.
    worse = tmp_path / "worse.toml"
    worse.write_text("[retrieval]\nk = 1\n")
    code = main(["eval", "--data-dir", data, "--golden", str(golden), "--out", str(tmp_path / "run2"), "--quiet",
                 "--config", str(worse), "--baseline", str(tmp_path / "base.json")])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1 and "citation_recall" in printed and "pass → fail: m" in printed
    assert "pass → fail: b" not in printed  # a catalog list does not depend on k


def test_a_follow_up_is_asked_of_the_systems_own_earlier_answer(built_engine: Engine, tmp_path: Path) -> None:
    """A history of user turns only: the eval answers them first, as the chat would, and asks the follow-up of
    that (the papers it cited travel with the turn). The generated turns are in the result."""
    golden = tmp_path / "live.jsonl"
    cfg = next(p.paper_id for p in built_engine.catalog.papers if p.title.startswith("Classifier-Free Guidance"))
    first = "Is classifier-free guidance a predictor-corrector method?"
    golden.write_text(json.dumps({"id": "f1", "kind": "followup", "question": "who wrote it?", "gold": [cfg],
                                  "history": [{"role": "user", "content": first}]}) + "\n")  # fmt: skip
    row = ev.load_golden(golden)[0]
    result = ev.evaluate_question(built_engine, row, k=5)
    assert [m["role"] for m in result["history"]] == ["user", "assistant"]
    assert result["history"][1]["papers"][0] == cfg and result["retrieved"][0] == cfg
    assert result["passed"], result["answer"]
