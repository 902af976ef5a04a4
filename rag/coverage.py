"""Honest coverage: what a question asks for that the corpus does not hold.

Three checks, all deterministic:
- `absent`: the question's subject words that no paper of the corpus contains (from the keyword index's
  vocabulary, computed by the retriever); when the subject hinges on them, the answer says so;
- `names`: which of those absent words are named things ("COBOL", "Toolformer", "Yoshua Bengio"): a question about a
  named thing no paper mentions is not answered from papers about something else, however close they score;
- `detail_stated`: a question asking for a specific detail (a count, a number, a dataset, a command) against
  the quoted evidence: when the evidence holds no such thing, the answer says the abstracts do not state it.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from rag.catalog_store import NAME_TOKEN

NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred hundreds "
    "thousand thousands million millions billion billions dozen dozens single couple"
).split()
# A stand-alone quantity: "8", "1.5", "48.3%", "10k", "2x", or a number word; not a name such as "A800" or "GPT-4".
QUANTITY = re.compile(
    # a range is one quantity: "30-40%"
    r"(?<![\w.-])\d+(?:[.,]\d+)*(?:\s?[-–]\s?\d+(?:[.,]\d+)*)?(?:\s?(?:%|x|×|k|m|b|bn|k\b))?(?![\w-])"
    r"|\b(" + "|".join(NUMBER_WORDS) + r")\b",
    re.I,
)
NAMED = re.compile(r"\b[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9-]*\b|\b[A-Z][a-z]+(?:[-\s][A-Z][a-z0-9]+)+\b")
COMMAND = re.compile(r"`[^`]+`|\b(pip|conda|python|git|npm|docker)\s+\w+|--[a-z][\w-]+")
OPTIMIZER = re.compile(
    r"\b(?:SGD|Adam\w*|Adagrad|RMSprop|Lion|Shampoo|Muon|LAMB|L-BFGS|(?:stochastic\s+)?gradient descent|momentum|"
    r"Newton|optimi[sz](?:er|ation method|ation algorithm))\b",
    re.I,
)
NUMERIC = re.compile(
    r"number|how (much|long|large|big|fast|expensive|accurate)|percentage|amount|accuracy|size|cost|rate|value|"
    r"score|speedup|count|seed|factor|margin",
    re.I,
)


# Shorter words one edit from a corpus word are as likely names ("ReFL", "ASAM") as misspellings.
MISSPELT_MIN_CHARS = 6

# What "which <...> did X use" names when it asks for models: read here and by the understanding stage's cue.
MODEL_NOUNS = r"llms?|models?|backbones?|architectures?|checkpoints?|versions?"
MODELS = re.compile(rf"\b(?:{MODEL_NOUNS})$")
# What papers, or kinds of paper, are called: how papers are asked for, not what they are about.
PAPER_NOUNS = (
    r"papers?|works?|studies|articles?|publications?|preprints?|surveys?|reviews?|tutorials?|overviews?|analyses|research"
    r"|literature|corpus|collection|catalog"
)
# A release's number after a name: "3", "1.5", "v8"; not a year ("2025"), a quantity's unit ("4-bit", "90%", "3x").
VERSION = re.compile(r"(?!(?:19|20)\d\d(?!\d|\.\d))v?\d+(?:\.\d+)*(?![\w%-]|\.\d)")
GENERIC = frozenset(
    "LLM LLMs AI ML NLP RL GPU GPUs CPU SFT RLHF VLM VLMs MLLM MLLMs LM LMs NN DNN CNN RNN T2I T2V I2V".split()
)


def detail_stated(detail: str, evidence: list[str], question: str = "") -> bool:
    """Does the evidence hold the kind of thing the detail asks for? (Names the question itself uses, like the
    method asked about, are not an answer.)"""
    text = " ".join(evidence)
    d = detail.lower()
    if d.startswith("number of "):
        # "number of GPUs": a quantity within a few words before the counted thing ("8 A100 GPUs"), or before a word
        # describing it ("five web-scale ... systems" for "web-scale production systems"; "eight popular post hoc
        # explanation methods").
        words = [w for w in d.removeprefix("number of ").split() if len(w) > 2] or d.split()[-1:]
        thing = "|".join(re.escape(w.rstrip("s")[:6]) for w in words)
        return bool(re.search(rf"({QUANTITY.pattern})(?:\W+\w+){{0,4}}?\W+(?:{thing})", text, re.I))
    if "percent" in d:  # a share: "19%", "19 percent"; any other number is not one
        return bool(re.search(r"\d\s?%|\bpercent", text, re.I))
    if NUMERIC.search(d):
        return bool(QUANTITY.search(text))
    if MODELS.search(d):  # "which base models": a model's name ("Llama-2 7B", "GPT-4", "LLaMA"), not "LLMs"
        asked = set(re.findall(r"[\w.-]+", question))
        return any(m.group(0) not in GENERIC and m.group(0) not in asked for m in NAME_TOKEN.finditer(text))
    if "dataset" in d:  # "on two datasets, ImageNet-1K and Places-365", "real-world data, including SVHN"
        return bool(re.search(r"\b(datasets?|benchmarks?|corpus|corpora|data)\b", text, re.I) and NAMED.search(text))
    if "optimizer" in d:  # "implicit stochastic gradient descent", "AdamW"
        return bool(OPTIMIZER.search(text))
    if "command" in d:
        return bool(COMMAND.search(text))
    return bool(re.search(rf"\b{re.escape(d.split()[-1].rstrip('s'))}", text, re.I))


def names(
    words: list[str],
    question: str,
    misspelt: Callable[[str], bool] = lambda w: False,
    shortened: Callable[[str], bool] = lambda w: False,
) -> list[str]:
    """The words (as the question spells them) that name something:
    - spelt as a coined name (the catalog's NAME_TOKEN: an acronym, letters with digits, inner capitals: "COBOL",
      "GPT-5", "TarFlow");
    - a part of a hyphenated coined name ("Shepherd" of "Math-Shepherd");
    - capitalised, not starting a sentence, and not an English word ("Toolformer", "Bitcoin"; "Sun", "Japan" are);
    - part of a run of two or more capitalised words after the question's first word ("Yoshua Bengio"), or two absent
      words after "by" in any case ("papers by chelsea finn");
    - written in lower case but spelt as coined (`is_coined`: "lightgbm", "torchrec"), unless it is a corpus word cut
      short (`shortened`: "hyperparams" of "hyperparameters");
    - followed by a version number ("alphafold 3", "jamba 1.5", "yolo v8"; not a year, "4-bit" or "90%");
    except, in the last five cases, a corpus word misspelt (`misspelt`: "Hallucinatons" of a title asked about).
    """
    tokens = re.findall(r"[\w'-]+", question)
    # a person named after "by", in any case: "papers by chelsea finn"
    runs = {w for m in re.finditer(r"\bby\s+([\w'-]+)\s+([\w'-]+)", question) if {*m.groups()} <= {*words}
            for w in m.groups()}  # fmt: skip
    for i, tok in enumerate(tokens[1:], 1):
        near = [tokens[j] for j in (i - 1, i + 1) if 1 <= j < len(tokens)]
        if tok[:1].isupper() and any(t[:1].isupper() for t in near):
            runs.add(tok)
    coined = {part for m in NAME_TOKEN.finditer(question) for part in m.group(0).split("-")}
    english = english_words()
    # A sentence's first word is capitalised whatever it is ("Chatbots botch ...").
    starts = {m.group(1) for m in re.finditer(r"(?:^|[.!?:]\s+)[\"'(]?([\w'-]+)", question)}

    def unusual(w: str) -> bool:
        foreign = w[:1].isupper() and w not in starts and bool(english) and w.lower() not in english
        lower = w.islower() and is_coined(w) and not shortened(w)
        versioned = re.search(rf"(?<![\w-]){re.escape(w)}\s+{VERSION.pattern}", question, re.I) is not None
        return (w in runs or w in coined or foreign or lower or versioned) and not (
            len(w) >= MISSPELT_MIN_CHARS and misspelt(w.lower())
        )

    # A word with a hyphen or dot inside is a joined name no paper writes (`Retriever.unmatched_names`: "phi-3-mini").
    return [w for w in words if NAME_TOKEN.fullmatch(w) or re.search(r"\w[\s.-]\w", w) or unusual(w)]


# A lower-case word is coined when MiniLM's WordPiece vocabulary cuts it into this many pieces or more ("lightgbm":
# light ##gb ##m) and no dictionary has it: ordinary words it does not keep whole mostly take two ("shop ##per"), and
# the dictionary has those. Two pieces are a name too ("sg ##lang", "hint ##on") unless they are two English words or
# four letters or fewer (abbreviations: "avg", "cvar").
COINED_MIN_PIECES = 3


def is_coined(word: str) -> bool:
    """A lower-case word spelt like a coined name ("xgboost", "torchrec", "numpyro", "sglang", "hinton"), not like
    English: in no dictionary (Webster's Second and GCIDE, 264,000 words), compared by Snowball stem, with British
    spellings read as American ("practising", "customised"), "-ier" as "-y" ("sturdier"), a comparative as its
    adjective ("tougher", "biggest") and an English prefix taken off ("reusable"); and cut into `COINED_MIN_PIECES`
    WordPiece pieces or more, or, five letters or more, into two that are not two English words joined ("joystick",
    "heatwave"; "cvar" and "avg" are abbreviations)."""
    w = word.lower()
    if len(w) < 4 or not w.isalpha() or w in english_words():
        return False
    cut = wordpieces(w)
    if len(cut) < COINED_MIN_PIECES - 1 or (len(cut) < COINED_MIN_PIECES and (len(w) < 5 or _two_words(w))):
        return False
    stems = dictionary_stems()
    if not stems:  # the dictionary package is not installed: the rule is off
        return False
    forms = {w, re.sub(r"is(e|es|ed|ing|ation|ations|er|ers)$", r"iz\1", w), re.sub(r"i(er|est|ly)$", "y", w),
             re.sub(r"([a-z])\1?(?:er|est)$", r"\1", w), re.sub(r"(?:er|est)$", "e", w),
             re.sub(r"ey$", "", w)}  # fmt: skip
    forms |= {f[len(m.group(0)) :] for f in list(forms) if (m := ENGLISH_PREFIX.match(f))}
    return not (set(_stemmer().stemWords(sorted(forms))) & stems)


def in_dictionary(word: str) -> bool:
    """Is the word in the English dictionary, compared by Snowball stem (true when the package is not installed:
    the check is then off)?"""
    stems = dictionary_stems()
    return not stems or _stemmer().stemWord(word.lower()) in stems


def can_be_noun(word: str) -> bool:
    """Can the word name a thing? What a question is about, and so what the corpus can lack, is named by nouns:
    "football", "traffic", "hospitals". A word English uses only as an adjective, adverb or verb form ("worse",
    "harder", "gentle", "roughly", "told") describes or asks; that no paper uses it says nothing of what the corpus
    holds. True for words the dictionary (lemminflect's, from the SPECIALIST lexicon, read into
    `rag/lexicon/non_nouns.txt.gz` by `scripts/non_nouns.py`) does not know: names and coined words; and for
    acronyms ("RAM")."""
    return word.isupper() or word.lower() not in non_nouns()


@cache
def non_nouns() -> frozenset[str]:
    """The lower-case words the dictionary knows with no noun reading (28,965; read in 6 ms, where loading the
    dictionary itself took 0.54 s)."""
    with gzip.open(Path(__file__).parent / "lexicon" / "non_nouns.txt.gz", "rt", encoding="utf-8") as f:
        return frozenset(f.read().split())


def _two_words(w: str) -> bool:
    """Is the word two English words of three letters or more joined, one of four or more ("partway", "offloaded",
    "chatbots")? Two three-letter pieces are too easily English by chance ("opt" + "una" of "optuna")."""
    english = english_words()
    return any(
        w[:i] in english and (w[i:] in english or re.sub(r"(?:s|ed)$", "", w[i:]) in english)
        for i in range(3, len(w) - 2)
        if max(i, len(w) - i) >= 4
    )


# Prefixes and combining forms that make English words of English words ("reusable", "overparametrised",
# "deblurring", "neuroscientists"), not of names.
ENGLISH_PREFIX = re.compile(
    r"(?:re|un|over|under|pre|non|mis|out|dis|co|sub|inter|de|anti|semi|multi|hyper|micro|macro|nano|neuro|bio|geo"
    r"|astro|electro|thermo|hydro|photo|psycho|socio|eco|tele)(?=[a-z]{4})"
)  # not "auto", "meta": coined names start so ("autoguidance", "metamath")


def wordpieces(word: str) -> list[str]:
    """The word as MiniLM's own WordPiece tokenizer cuts it ("##" marking a continuation); the word whole when the
    model package is not installed."""
    tokenizer = _minilm_tokenizer()
    return tokenizer.encode(word, add_special_tokens=False).tokens if tokenizer is not None else [word]


@cache
def _minilm_tokenizer() -> Any:
    """MiniLM's tokenizer, loaded as the embedder loads it (rag.embed.load_tokenizer)."""
    from rag.embed import load_tokenizer, minilm_dir

    try:
        return load_tokenizer(minilm_dir())
    except (ImportError, OSError, ValueError, KeyError):
        return None


@cache
def dictionary_stems() -> frozenset[str]:
    """The Snowball stems of the `english-words` package's two dictionaries (empty when it is not installed)."""
    try:
        from english_words import get_english_words_set
    except ImportError:
        return frozenset()
    return frozenset(_stemmer().stemWords(sorted(get_english_words_set(["web2", "gcide"], lower=True))))


def _stemmer() -> Any:
    """A new Snowball stemmer: PyStemmer objects are not thread-safe, and the HTTP API answers on several threads
    (one costs microseconds to make)."""
    import Stemmer

    return Stemmer.Stemmer("english")


@cache
def vocabulary() -> frozenset[str]:
    """MiniLM's WordPiece vocabulary, every piece (empty when the package is not installed)."""
    from rag.embed import minilm_dir

    try:
        return frozenset((minilm_dir() / "vocab.txt").read_text(encoding="utf-8").split())
    except (ImportError, OSError):
        return frozenset()


@cache
def english_words() -> frozenset[str]:
    """Ordinary English: the whole words of MiniLM's WordPiece vocabulary (30,522 pieces learnt from Wikipedia and
    books, shipped with the embedder's package). A word it keeps whole ("sun", "japan", "byzantine") is common
    enough to be written in lay questions; a coined name ("Toolformer", "Mirostat") it splits into pieces. Empty
    when the package is not installed: the rule is then off."""
    return frozenset(w for w in vocabulary() if w.isalpha() and w.islower())
