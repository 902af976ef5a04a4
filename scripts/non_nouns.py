"""Write rag/lexicon/non_nouns.txt.gz: the English words that can never be nouns (rag/coverage.can_be_noun).

The list is read from lemminflect's dictionary (the SPECIALIST lexicon) once, here, so a question does not pay
0.5 s for loading the whole dictionary and the package is needed only to rebuild the list:

    pip install lemminflect==0.2.3 && python scripts/non_nouns.py

tests/test_coverage.py rebuilds the list with the package (the test extra installs it) and checks the shipped one.
"""

from __future__ import annotations

import gzip
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "rag" / "lexicon" / "non_nouns.txt.gz"


def non_nouns() -> list[str]:
    """Every lower-case word the dictionary knows with no noun or proper-noun reading ("worse", "told", "gently")."""
    from lemminflect import getAllLemmas
    from lemminflect.core.Lemmatizer import Lemmatizer

    lemmatizer = Lemmatizer()
    # A lookup lower-cases the word, so only lower-case entries can ever answer one; a question is looked up word by
    # word, so never an entry of two ("over shoot").
    entries = [*lemmatizer._getLemmaDict(), *lemmatizer._getOverridesDict()]
    words = {w for w in entries if w == w.lower() and " " not in w}
    return sorted(w for w in words if (r := getAllLemmas(w)) and not {"NOUN", "PROPN"} & set(r))


def main() -> None:
    words = non_nouns()
    # mtime=0: the same list gives the same bytes
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        f.write(("\n".join(words) + "\n").encode())
    print(f"{OUT}: {len(words)} words")


if __name__ == "__main__":
    main()
