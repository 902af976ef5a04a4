"""Which absent words name something (rag/coverage.names): a question about a named thing no paper mentions is
refused whatever scores close. No index needed."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from rag.coverage import can_be_noun, detail_stated, names, non_nouns, wordpieces
from rag.understand import detail_asked

CASES = [
    # (absent words as the question spells them, question, the ones that name something)
    (["COBOL", "Fortran"], "Is there a paper fine-tuning LLMs to write COBOL or Fortran code?", ["COBOL", "Fortran"]),
    (["Yoshua", "Bengio"], "Which papers were written by Yoshua Bengio?", ["Yoshua", "Bengio"]),
    (["GPT-5"], "How does GPT-5 do on math benchmarks?", ["GPT-5"]),
    (["ResNet-50"], "Can these models beat ResNet-50?", ["ResNet-50"]),
    (["Champions", "League"], "Which club won the Champions League?", ["Champions", "League"]),
    (["LDPC"], "Are LDPC decoders learned with belief propagation?", ["LDPC"]),
    # a capitalised word that is not English, a part of a hyphenated coined name
    (["Toolformer"], "How does Toolformer decide when to call an API?", ["Toolformer"]),
    (["Bitcoin", "cryptocurrency"], "Which models trade Bitcoin or another cryptocurrency?",
     ["Bitcoin", "cryptocurrency"]),  # a lower-case word in no dictionary, spelt like a coined one
    (["Mirostat"], "What does the corpus say about min-p sampling or Mirostat?", ["Mirostat"]),
    (["Shepherd"], "How does Math-Shepherd label process rewards?", ["Shepherd"]),
    (["Quiet"], "What does the theory say about Quiet-STaR rationales?", ["Quiet"]),
    # everyday words, capitalised or not, name nothing
    (["trips", "Sun", "locked"], "Worlds whose trips around the Sun are locked in step?", []),
    (["Toolformers"], "Toolformers: how do they decide when to call an API?", []),  # a sentence starts capitalised
    (["hit", "Earth"], "Where do the particles that hit Earth from space come from?", []),
    (["visa", "Japan", "passport"], "Do I need a visa for Japan on a US passport?", []),
    (["chatbots", "French"], "Is there a paper on chatbots written in French?", []),
    (["quiet"], "Is a quiet model a safe model?", []),
    (["Chatbots", "botch"], "Chatbots botch the last digit of a product: why?", []),
    (["wobbly", "film", "crew"], "Can a film crew fix wobbly footage?", []),
    (["sourdough", "bread"], "What is a good recipe for sourdough bread?", ["sourdough"]),  # as coined
    (["Insurance"], "Insurance claims: can graph models flag fraud?", []),
    # lower case: coined spellings name something, English words (inflected, British, prefixed) do not
    (["xgboost", "catboost"], "is xgboost or catboost better for tabular data", ["xgboost", "catboost"]),
    (["pytorchvideo"], "which papers load clips with pytorchvideo", ["pytorchvideo"]),
    (["sturdier", "reusable"], "can we make sturdier, reusable models?", []),
    (["customising", "practising"], "customising a model by practising on examples", []),
    (["yardstick", "shopper"], "what yardstick tells a shopper which model is better?", []),
    (["neuroscientists", "deblurring"], "do neuroscientists study deblurring?", []),  # a combining form, a prefix
    (["autoguidance"], "does autoguidance steer diffusion?", ["autoguidance"]),
    (["avg", "cvar"], "what avg cvar do the methods reach?", []),  # two pieces each: abbreviations, not names
    # two pieces, five letters or more, in no dictionary: a tool's or a person's name
    (["sglang"], "can sglang serve diffusion llms?", ["sglang"]),
    (["dowhy"], "does dowhy implement location scale noise models?", ["dowhy"]),
    (["synthid"], "does synthid text watermarking degrade safety?", ["synthid"]),  # "syn" + "thid" is no two words
    (["optuna"], "does any paper tune hyperparameters with optuna?", ["optuna"]),  # "opt" + "una": chance, not words
    (["geoffrey", "hinton"], "what did geoffrey hinton find about forward-forward training?", ["hinton"]),
    # ... but not two English words joined, nor a comparative, nor English spelt "-ey"
    (["partway", "joystick", "heatwave"], "does training break partway, like a joystick in a heatwave?", []),
    (["tougher", "safest", "echoey"], "which model is tougher, which safest on echoey audio?", []),
    # a hyphenated or dotted name no paper writes (`Retriever.unmatched_names`)
    (["phi-3-mini", "llama.cpp"], "does phi-3-mini run in llama.cpp?", ["phi-3-mini", "llama.cpp"]),
    (["Llama Guard"], "Is Llama Guard any good?", ["Llama Guard"]),  # ... and a multi-word one
    (["chelsea", "finn"], "any papers by chelsea finn on meta-learning?", ["chelsea", "finn"]),  # after "by"
    # a version number after it names a release, in any case
    (["alphafold", "ligand"], "what does alphafold 3 get wrong on protein-ligand complexes?", ["alphafold"]),
    (["jamba"], "how does jamba 1.5 mix attention and state space layers?", ["jamba"]),
    (["yolo"], "is yolo v8 good on drone footage?", ["yolo"]),
    (["kandinsky"], "tell me about kandinsky 3.", ["kandinsky"]),  # at a sentence's end
    # ... not a year, a count with its unit, or a share
    (["midwinter"], "what was posted midwinter 2024?", []),
    (["midwinter"], "show me what was posted midwinter 2024.", []),
    (["crude"], "can you train a model with crude 4-bit numbers?", []),
    (["roughly"], "does it cut memory roughly 40% or more?", []),
    (["batches"], "does it learn from batches 3x larger?", []),
]


@pytest.mark.parametrize(("words", "question", "named"), CASES, ids=lambda x: str(x)[:40])
def test_which_absent_words_name_something(words: list[str], question: str, named: list[str]) -> None:
    assert names(words, question) == named


def test_a_misspelt_corpus_word_is_not_a_name() -> None:
    """ "Hallucinatons" of a title asked about is one edit from a corpus word: a typo, not an absent name. A coined
    name keeps its spelling ("MiniLLM", one edit from "MiniLM"), and a short word is as likely a name ("ReFL")."""
    question = "What does Measuring Language Model Hallucinatons Through Distributional Correctness propose?"
    assert names(["Hallucinatons"], question) == ["Hallucinatons"]
    assert names(["Hallucinatons"], question, misspelt=lambda w: w == "hallucinatons") == []
    assert names(["MiniLLM"], "How does MiniLLM distil LLMs?", misspelt=lambda w: True) == ["MiniLLM"]
    assert names(["Coq"], "Are proofs checked in Coq?", misspelt=lambda w: True) == ["Coq"]


def test_a_corpus_word_cut_short_is_not_a_lower_case_name() -> None:
    """ "backprop" is spelt like a coined name, but it is "backpropagation" cut short."""
    question = "does backprop matter most?"
    assert names(["backprop"], question) == ["backprop"]
    assert names(["backprop"], question, shortened=lambda w: w == "backprop") == []


@pytest.mark.parametrize(
    ("word", "pieces"),
    [("lightgbm", ["light", "##gb", "##m"]), ("shopper", ["shop", "##per"]), ("model", ["model"])],
)
def test_words_are_cut_as_minilm_cuts_them(word: str, pieces: list[str]) -> None:
    assert wordpieces(word) == pieces


DETAILS = [
    # (question, the detail asked or None)
    ("How many GPUs were used to train SliM-LLM?", "number of GPUs"),
    ("In how many web-scale production systems did they report gains?", "number of web-scale production systems"),
    # a way of choosing how many, not a count asked
    ("How do you decide how many sub-models to use?", None),
    ("Do radius measurements tell us how many protons are inside?", None),
    ("Can we figure out how many layers to prune?", None),
    # "how many" after what is done ("bad at tallying", "counting"): part of the subject, not a count asked
    ("Why would subword pieces make it bad at tallying how many times something appears?", None),
    ("Are LLMs good at counting how many letters a word has?", None),
    ("Why do chatbots get it wrong when you ask how many times a letter shows up?", None),
    ("Has anyone proven how many examples in-context learning needs?", None),
    ("If two models fit the same curve, can they still disagree about how many protons are inside?", None),
    ("About how many GPUs were used?", "number of GPUs"),  # "about" as "roughly", opening the question
    ("How many of ResNet-50's weights does the lottery jackpot remove?", "number of weights"),  # a partitive
    ("How many of the layers are pruned?", "number of layers"),
    # ... but opening a clause, or after a preposition or "me", it is asked
    ("Which optimizer is used, and on how many seeds?", "number of seeds"),
    ("Tell me how many GPUs were used.", "number of GPUs"),
    ("Roughly how many parameters does the model have?", "number of parameters"),
    ("By what percentage did productivity drop?", "percentage"),
    ("By how much does the method improve accuracy?", "amount"),
    ("Which base models did the PLoP experiments use?", "base models"),
    ("Which Stable Diffusion version was SoftREPA fine-tuned on?", "Stable Diffusion version"),
    ("Which LLMs exactly were used in the experiments?", "LLMs"),
    # a kind of model asked as a subject, or no work named: papers are asked for, not a detail
    ("Which papers use diffusion models?", None),
    ("What models are used for protein folding?", None),
    ("Which papers study models trained on synthetic data?", None),
    ("Which of the models was trained longest?", None),
    ("Which diffusion models are trained on video?", None),
    # "which model" far from a verb of experimenting: a subject, not the models one work used
    ("Can you prove which model wrote a text, where the detection tests stay valid?", None),
]


@pytest.mark.parametrize(("question", "detail"), DETAILS, ids=lambda x: str(x)[:40])
def test_the_detail_a_question_asks_for(question: str, detail: str | None) -> None:
    assert detail_asked(question) == detail


STATED = [
    # (detail, evidence, question, stated?)
    ("percentage", ["Accuracy drops by 19% on held-out tasks."], "", True),
    ("percentage", ["We analyse over 1000 papers."], "", False),  # a number, but no share
    ("base models", ["We evaluate on Llama-2 7B and Mistral."], "", True),
    ("base models", ["PLoP places LoRA adapters."], "Which base models did the PLoP LoRA runs use?", False),
    ("LLMs", ["Experiments with LLMs show the method helps."], "", False),  # the kind, not a name
    ("number of GPUs", ["Training used 8 A100 GPUs."], "", True),
    ("number of GPUs", ["Training ran on A800 GPUs."], "", False),
    ("number of fewer bits", ["The same FID as HiFiC with 30-40% fewer bits."], "", True),  # a range
    ("number of layers", ["GPT-4 and Llama-2-7B have many layers."], "", False),  # versions are no count
    ("number of web-scale production systems", ["Gains across five web-scale search and ads systems."], "", True),
    ("number of web-scale production systems", ["Gains in web-scale production systems."], "", False),
    ("number of methods", ["We unify eight popular post hoc explanation methods (LIME, SHAP)."], "", True),
    ("datasets", ["Experiments on real-world data, including SVHN and CIFAR10."], "", True),
    ("datasets", ["Experiments on real-world data show gains."], "", False),  # no dataset named
    ("optimizer", ["IL approximates implicit stochastic gradient descent (implicit SGD)."], "", True),
    ("optimizer", ["IL improves stability across learning rates."], "", False),
]


@pytest.mark.parametrize(("detail", "evidence", "question", "stated"), STATED, ids=lambda x: str(x)[:30])
def test_whether_the_evidence_states_the_detail(detail: str, evidence: list[str], question: str, stated: bool) -> None:
    assert detail_stated(detail, evidence, question) is stated


NOUNS = [
    # what a corpus can lack: things, named by nouns (some also verbs or adjectives)
    ("football", True), ("traffic", True), ("hospitals", True), ("crop", True), ("weather", True), ("speech", True),
    ("stock", True), ("chess", True), ("essays", True), ("click", True), ("advertising", True), ("cut", True),
    # names, coined words and acronyms the dictionary does not read as English words
    ("Toolformer", True), ("xgboost", True), ("yolov8", True), ("RAM", True), ("GPT", True), ("LDPC", True),
    # words that describe or ask: adjectives, adverbs, verb forms
    ("worse", False), ("harder", False), ("gentle", False), ("badly", False), ("roughly", False), ("Roughly", False),
    ("cheaper", False), ("wider", False), ("messy", False), ("apart", False), ("Apart", False),
    ("everywhere", False), ("told", False), ("meant", False), ("tasting", False), ("curvy", False),
]


@pytest.mark.parametrize(("word", "noun"), NOUNS)
def test_only_a_word_that_can_name_a_thing_can_be_what_the_corpus_lacks(word: str, noun: bool) -> None:
    assert can_be_noun(word) is noun


def test_the_shipped_word_list_is_the_dictionarys() -> None:
    """rag/lexicon/non_nouns.txt.gz is lemminflect's dictionary read once (scripts/non_nouns.py); a stale or hand-edited
    list fails here. A word is a noun by the list exactly when the dictionary gives it a noun reading, or none."""
    import lemminflect  # the test extra installs it; the package itself does not need it

    script = runpy.run_path(str(Path(__file__).parent.parent / "scripts" / "non_nouns.py"))
    assert non_nouns() == frozenset(script["non_nouns"]())
    for word in ("worse", "told", "cut", "football", "apart", "gently", "xgboost"):
        readings = lemminflect.getAllLemmas(word)
        assert can_be_noun(word) is (not readings or bool({"NOUN", "PROPN"} & set(readings)))
