"""Each page format's parser, on text taken from the real pages, traps included."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.parse import CorpusError, abstract_list, arxiv_listing, daily_papers, parse_page, profile, title_list
from rag.parse.common import parse_date
from rag.text import derive_title, searchable, sentences

ABSTRACT = (
    "We investigate the theoretical foundations of classifier-free guidance (CFG). CFG is the dominant method of "
    "conditional sampling for text-to-image diffusion models, yet unlike other aspects of diffusion, it remains on "
    "shaky theoretical footing. In this paper, we disprove common misconceptions."
)
ABSTRACT2 = (
    "Two competing paradigms exist for self-supervised learning of data representations. Joint Embedding Predictive "
    "Architecture (JEPA) is a class of architectures in which semantically similar inputs are encoded into "
    "representations that are predictive of each other."
)


def test_profile_block_headers_authors_and_affiliations() -> None:
    lines = [
        "Arwen Bradley", "", "LG", "h-index28", "12papers", "381citations", "Novelty50%", "AI Score56", "",
        "12 Papers", "", "LGOct 24, 2023", "What Algorithms can Transformers Learn? A Study in Length Generalization",
        "", "Hattie Zhou, Arwen Bradley, Etai Littwin et al. · apple-ml, princeton", "", ABSTRACT, "",
        "69.0CLMay 11", "Annotations Mitigate Post-Training Mode Collapse", "",
        "Jacob Mitchell Springer, Madhu Advani, Lukas Aichberger et al.", "", ABSTRACT2,
    ]  # fmt: skip
    out = profile.parse(lines, "p.txt")
    assert out.problems == []
    a, b = out.records
    assert a.title.startswith("What Algorithms") and a.category == "LG"
    assert (a.date, a.date_text) == ("2023-10-24", "Oct 24, 2023")
    assert a.authors == ["Hattie Zhou", "Arwen Bradley", "Etai Littwin"] and a.authors_truncated
    assert a.affiliations == ["apple-ml", "princeton"]
    assert a.source.line == 13  # the title's line
    # score prefix, no year: the year is not guessed
    assert (b.score, b.category, b.date, b.date_text) == (69.0, "CL", None, "May 11")
    assert b.affiliations == [] and b.authors_truncated
    # nothing of the profile block became a paper
    assert all("h-index" not in (r.title or "") for r in out.records)


def test_profile_entry_without_abstract_is_reported_with_its_line() -> None:
    out = profile.parse(["LGOct 24, 2023", "A title only", "LGAug 16, 2024", "Title", "A, B", ABSTRACT], "p.txt")
    assert len(out.records) == 1
    assert str(out.problems[0]).startswith("p.txt:1: skipped")


def test_abstract_list_prefix_and_bad_line() -> None:
    out = abstract_list.parse([f"Abstract:{ABSTRACT}", "", "stray text", f"Abstract:{ABSTRACT2}"], "a.txt")
    assert [r.abstract[:10] for r in out.records] == [ABSTRACT[:10], ABSTRACT2[:10]]
    assert out.records[0].title is None
    assert [str(p) for p in out.problems] == ["a.txt:3: skipped: line does not start with 'Abstract:'"]


def test_arxiv_id_belongs_to_the_abstract_before_it() -> None:
    lines = [
        ABSTRACT,
        f"arXiv:2408.09000{ABSTRACT2}",
        "Initial submission to openreview on October 3, 2024; accepted to AISTATS 2025",
        "9 pages, 7 figures",
        "arXiv:2407.03475",
    ]
    out = arxiv_listing.parse(lines, "x.txt")
    first, second = out.records
    assert first.abstract == ABSTRACT and first.arxiv_id == "2408.09000" and first.date == "2024-08"
    assert second.abstract == ABSTRACT2 and second.arxiv_id == "2407.03475"
    assert second.comments == [
        "Initial submission to openreview on October 3, 2024; accepted to AISTATS 2025",
        "9 pages, 7 figures",
    ]
    assert first.comments == [] and out.problems == []


def test_arxiv_listing_orphans_are_reported() -> None:
    out = arxiv_listing.parse(["arXiv:2401.00001", ABSTRACT], "x.txt")
    assert out.records[0].arxiv_id is None
    assert any("no abstract before it" in str(p) for p in out.problems)
    assert any("without an arXiv id" in str(p) for p in out.problems)


def test_daily_papers_chrome_and_date_headers() -> None:
    chrome = ["new", "", "Get trending papers in your email inbox!", "", "Subscribe", "", "Daily Papers", ""]
    lines = [
        *chrome,
        "byAK and the research community",
        "",
        "Oct 2",
        "",
        "DRAGON: Distributional Rewards",
        "",
        ABSTRACT,
    ]
    out = daily_papers.parse(lines, "d.txt")
    (rec,) = out.records
    assert rec.title == "DRAGON: Distributional Rewards" and rec.source.line == 13
    assert rec.source.listing_date == "Oct 2"


def test_title_list_subscribe_glued_and_sentence_like_titles() -> None:
    hades = "The High-resolution Accretion Disks of Embedded protoStars (HADES) simulations. I. Impact of Fields"
    lines = ["Get trending papers in your email inbox once a day!", "Get trending papers in your email inbox!",
             "SubscribeSynergistic Integration of Large Language Models", ABSTRACT, hades, ABSTRACT2]  # fmt: skip
    out = title_list.parse(lines, "t.txt")
    assert [r.title for r in out.records] == ["Synergistic Integration of Large Language Models", hades]
    assert out.problems == []


def test_title_without_abstract_is_reported() -> None:
    out = title_list.parse(["A lonely title", "Another title", ABSTRACT], "t.txt")
    assert [r.title for r in out.records] == ["Another title"]
    assert str(out.problems[0]).startswith("t.txt:1: skipped: title without an abstract")


def test_non_utf8_page_is_read_with_a_note_and_unknown_format_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Caf\xe9 title\n" + ABSTRACT.encode() + b"\n")
    out = parse_page(bad, "title-list")
    assert [r.title for r in out.records] == ["Café title"]  # cp1252 fallback, not refused
    assert [str(p) for p in out.problems] == ["bad.txt:1: not UTF-8 from this line on: read as cp1252/Latin-1"]
    with pytest.raises(CorpusError, match="unknown format 'nope'"):
        parse_page(bad, "nope")


def test_latex_and_unicode_are_kept_and_made_searchable() -> None:
    assert searchable(r"$\tt GrayHawk$: a public code") == "GrayHawk: a public code"
    assert searchable("L$^2$M: Mutual Information") == "L2M: Mutual Information"
    assert "gamma" in searchable(r"$p(x|c)^\gamma p(x)^{1-\gamma}$")
    assert "mu" in searchable("$μ$-Parametrization for Mixture of Experts")
    assert searchable("<script>alert(1)</script>Title") == "alert(1) Title"


def test_dates_and_sentences_and_derived_titles() -> None:
    assert parse_date("Oct 24, 2023") == ("2023-10-24", 2023)
    assert parse_date("May 11") == (None, None)
    assert sentences("We use X (e.g. Y et al. 2020). It works.") == ["We use X (e.g. Y et al. 2020).", "It works."]
    title = derive_title(ABSTRACT)
    assert title == "We investigate the theoretical foundations of classifier-free guidance (CFG)"


def test_real_pages_parse_without_loss() -> None:
    corpus = Path(__file__).resolve().parent.parent / "corpus"
    counts = {}
    for name, fmt in [("000", "profile"), ("001", "abstract-list"), ("002", "arxiv-listing"),
                      ("003", "daily-papers"), ("004", "title-list")]:  # fmt: skip
        (path,) = corpus.glob(f"{name}_*.txt")
        out = parse_page(path, fmt)
        assert out.problems == [], out.problems
        counts[fmt] = len(out.records)
    assert counts == {"profile": 12, "abstract-list": 10, "arxiv-listing": 10, "daily-papers": 64, "title-list": 450}


def test_hostile_text_is_neutralised_at_parse_time(tmp_path: Path) -> None:
    page = tmp_path / "h.txt"
    page.write_text("\x1b[31mRed\x1b[0m title\u200b\x07\n<img src=x onerror=alert(1)> " + ABSTRACT + "\n")
    (rec,) = parse_page(page, "title-list").records
    assert not any(ch in rec.title for ch in "\x1b\x07\u200b")
    # the abstract stays faithful (the shells escape it); the indexed form has no markup
    assert rec.abstract.startswith("<img") and "onerror" not in searchable(rec.abstract)


def test_bibtex_latex_is_decoded_and_math_kept() -> None:
    from rag.parse.bibtex import latex_to_text

    assert (
        latex_to_text(r"Erd{\H o}s, G{\"o}del, \c{C}elik, Garc{\'i}a, {\ss}, \o") == "Erdős, Gödel, Çelik, García, ß, ø"
    )
    assert latex_to_text(r"{{BERT}}: 50\% faster --- \& more \{x\}") == "BERT: 50% faster — & more {x}"
    assert latex_to_text(r"a {$\mathcal{O}(n^{2})$} bound") == r"a $\mathcal{O}(n^{2})$ bound"


def test_metadata_helpers() -> None:
    from rag.parse.fields import iso_date, normal_arxiv_id, normal_doi, split_authors, year_month

    assert split_authors("Hopper, Grace; Turing, Alan") == ["Grace Hopper", "Alan Turing"]
    assert split_authors("A. Author, B. Author") == ["A. Author", "B. Author"]
    assert split_authors("Smith, Jane", bibtex=True) == ["Jane Smith"]
    assert iso_date("Mon, 2 Apr 2007 19:18:42 GMT") == "2007-04-02" and iso_date("2023/10/24") == "2023-10-24"
    assert iso_date("2023-13-01") is None and iso_date("soon") is None and iso_date("2021") == "2021"
    assert year_month("2023", "mar") == "2023-03" and year_month("2023", "{March}"[1:-1]) == "2023-03"
    assert (
        normal_arxiv_id("arXiv:2401.00001v2") == "2401.00001" and normal_arxiv_id("hep-th/9901001") == "hep-th/9901001"
    )
    assert normal_arxiv_id("not an id") is None
    assert normal_doi("https://doi.org/10.1000/ABC") == "10.1000/abc" and normal_doi("n/a") is None
