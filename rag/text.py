"""Text helpers shared by parsing, merging and indexing.

`abstract` and `title` keep the page's text faithfully (LaTeX included); `searchable()` gives the
form that gets indexed, so `$\\tt GrayHawk$` is found as "GrayHawk" and `L$^2$M` as "L2M".
"""

from __future__ import annotations

import html
import re
import unicodedata

GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu",
    "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon",
    "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta",
    "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma", "Φ": "Phi",
    "Ψ": "Psi", "Ω": "Omega",
}  # fmt: skip
_LATEX_GREEK = re.compile(r"\\(" + "|".join(sorted(set(GREEK.values()), key=len, reverse=True)) + r")(?![A-Za-z])")
_LATEX_FONT = re.compile(
    r"\\(?:tt|bf|it|rm|sf|em|mathrm|mathbf|mathit|mathcal|mathbb|texttt|textbf|textit|text|emph|operatorname)\b\s*"
)
_LATEX_CMD = re.compile(r"\\([A-Za-z]+)")
_TAGS = re.compile(r"<[^>\n]{0,200}>")
_SPACE = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[\W_]+")
_GREEK_CHAR = re.compile("[" + "".join(GREEK) + "]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'$\\])")
# Abbreviations that end in a period but do not end a sentence.
_NO_BREAK = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|Sec|resp|approx|Dr|Mr|Ms|No)\.|\(e\.g\.)$")


def clean_line(line: str) -> str:
    """Normalize one page line: Unicode NFC, no control characters, no stray whitespace."""
    line = unicodedata.normalize("NFC", line)
    line = "".join(ch for ch in line if ch == "\t" or unicodedata.category(ch)[0] != "C")
    return line.strip()


def searchable(text: str) -> str:
    """Plain text for indexing: LaTeX markup and HTML tags dropped, Greek letters also spelled out."""
    text = html.unescape(_TAGS.sub(" ", text))
    text = _LATEX_GREEK.sub(lambda m: m.group(1), text)
    text = _LATEX_FONT.sub("", text)
    text = _LATEX_CMD.sub(lambda m: m.group(1), text)
    text = text.replace("$", "").replace("{", "").replace("}", "").replace("^", "").replace("_", " ")
    text = _GREEK_CHAR.sub(lambda m: f"{m.group(0)}({GREEK[m.group(0)]})", text)
    return _SPACE.sub(" ", text).strip()


def fold(text: str) -> str:
    """Aggressive normal form for comparing two versions of one text."""
    text = unicodedata.normalize("NFKD", searchable(text)).lower()
    if not text.isascii():  # combining marks exist only outside ASCII
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # Regexes, not a Python loop per character (several times faster at ingest): `[\W_]` is exactly "not isalnum".
    return _NOT_ALNUM.sub(" ", text).strip()


def sentences(text: str) -> list[str]:
    """Split an abstract into sentences (good enough for extractive answers)."""
    out: list[str] = []
    for part in _SENTENCE.split(text.strip()):
        if out and _NO_BREAK.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        elif part.strip():
            out.append(part.strip())
    return out


def derive_title(abstract: str, max_words: int = 12) -> str:
    """An honest display title for an untitled paper: the start of its first sentence."""
    first = sentences(abstract)[0] if abstract.strip() else ""
    words = first.split()
    title = " ".join(words[:max_words]).rstrip(".,;:")
    return title + ("…" if len(words) > max_words else "")
