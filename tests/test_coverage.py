"""Which absent words name something (rag/coverage.names): a question about a named thing no paper mentions is
refused whatever scores close. No index needed."""

from __future__ import annotations

import pytest

from rag.coverage import names

CASES = [
    # (absent words as the question spells them, question, the ones that name something)
    (["COBOL", "Fortran"], "Is there a paper fine-tuning LLMs to write COBOL or Fortran code?", ["COBOL"]),
    (["Yoshua", "Bengio"], "Which papers were written by Yoshua Bengio?", ["Yoshua", "Bengio"]),
    (["GPT-5"], "How does GPT-5 do on math benchmarks?", ["GPT-5"]),
    (["iPhone"], "Can these models run on an iPhone?", ["iPhone"]),
    (["Champions", "League"], "Which club won the Champions League?", ["Champions", "League"]),
    (["LDPC"], "Are LDPC decoders learned with belief propagation?", ["LDPC"]),
    # everyday words, capitalised or not, name nothing
    (["trips", "Sun", "locked"], "Worlds whose trips around the Sun are locked in step?", []),
    (["Chatbots", "botch"], "Chatbots botch the last digit of a product: why?", []),
    (["wobbly", "film", "crew"], "Can a film crew fix wobbly footage?", []),
    (["sourdough", "bread"], "What is a good recipe for sourdough bread?", []),
    (["Insurance"], "Insurance claims: can graph models flag fraud?", []),
]


@pytest.mark.parametrize(("words", "question", "named"), CASES, ids=lambda x: str(x)[:40])
def test_which_absent_words_name_something(words: list[str], question: str, named: list[str]) -> None:
    assert names(words, question) == named
