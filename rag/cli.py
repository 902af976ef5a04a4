"""`rag` command line: a thin shell over `rag.Engine`. `--json` prints the very objects the Python
API returns. Errors print one line (set RAG_DEBUG=1 for a traceback) and exit with status 2."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import UserError

VERIFIED_HEADER = "Verified answer (it replaces the draft above):"
INGEST_PROBLEMS_SHOWN = 20


def _settings(args: argparse.Namespace) -> Any:
    from rag.settings import load_settings

    overrides: dict[str, Any] = {"data_dir": getattr(args, "data_dir", None)}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = args.corpus
    if getattr(args, "format", None):
        overrides["corpus"] = {"format": args.format}
    settings = load_settings(getattr(args, "config", None), **overrides)
    data = Path(settings.data_dir)
    if data.exists() and not data.is_dir():
        raise UserError(f"the data dir {data} is a file, not a folder: pass --data-dir with a folder")
    return settings


def _engine(args: argparse.Namespace) -> Any:
    from rag.engine import Engine

    return Engine(_settings(args))


def _filters(args: argparse.Namespace) -> Any:
    from rag.retrieve import Filters

    f = Filters(authors=args.author or [], category=args.category, source=args.source)
    if args.year:
        lo, _, hi = args.year.partition("-")
        try:
            f.year_from = int(lo) if lo else None
            f.year_to = int(hi) if hi else (int(lo) if lo and "-" not in args.year else None)
        except ValueError as exc:
            raise UserError(f"--year takes YYYY or YYYY-YYYY, not {args.year!r}") from exc
    return f if f.active() else None


def _lines(args: argparse.Namespace, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw bytes) per batch line; None for a line over `max_bytes`, which is skipped
    in bounded reads rather than held in memory."""
    if args.batch == "-":
        stream = sys.stdin.buffer
    else:
        path = Path(args.batch)
        if not path.is_file():
            raise UserError(f"batch file not found: {args.batch}")
        stream = path.open("rb")
    with stream:
        no = 0
        while line := stream.readline(max_bytes + 1):
            no += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                while (rest := stream.readline(max_bytes + 1)) and not rest.endswith(b"\n"):
                    pass
                yield no, None
            else:
                yield no, line


def _questions(args: argparse.Namespace, limits: Any) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, {"question", "history"}) per batch line, or (line number, error message).

    A bad line (too long, not UTF-8, not JSON, wrong types) is reported and the next line read."""
    if not args.batch:
        yield 0, {"question": " ".join(args.question), "history": []}
        return
    max_bytes = limits.bounds.body_bytes
    for no, raw in _lines(args, max_bytes):
        where = f"{args.batch}:{no}"
        if raw is None:
            yield no, f"{where}: the line is longer than {max_bytes} bytes (limits.body_bytes)"
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield no, f"{where}: not UTF-8 text (byte {exc.start + 1} of the line)"
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield no, f"{where}: not JSON ({exc.msg})"
            continue
        history = obj.get("history") if isinstance(obj, dict) else None
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            yield no, f'{where}: expected an object with a "question" string'
        elif history is not None and not isinstance(history, list):
            kind = type(history).__name__
            yield no, f'{where}: "history" must be a list of {{"role", "content"}} objects, not {kind}'
        else:
            yield no, {"question": obj["question"], "history": history or []}


def _history(raw: list[Any]) -> list[Any]:
    from pydantic import ValidationError

    from rag.models import Message

    try:
        return [Message.model_validate(m) for m in raw]
    except ValidationError as exc:
        raise UserError(
            f'history must be a list of {{"role": "user"|"assistant", "content": "..."}}: {exc.errors()[0]["msg"]}'
        ) from exc


def _print_sources(answer: Any) -> None:
    items = answer.citations or answer.related
    if not items:
        return
    print("\nRelated reading:" if answer.refused else "\nSources:")
    for c in items:
        title = f"{c.title} (title derived from the abstract)" if c.title_derived else c.title
        authors = c.authors_display or "authors not listed"
        ident = f" — arXiv:{c.arxiv_id} {c.url}" if c.arxiv_id else ""
        print(f"  [{c.n}] {title} — {authors}{ident}")


def cmd_ask_or_search(args: argparse.Namespace, *, ask: bool) -> int:
    from rag.limits import Limits, clip

    engine = _engine(args)
    limits = Limits(engine.settings)
    filters = _filters(args)
    failures = 0
    for no, item in _questions(args, limits):
        if isinstance(item, str):
            failures += 1
            print(json.dumps({"error": item, "line": no}), flush=True)
            continue
        try:
            history = _history(item["history"])
            if not ask:
                result = engine.search(item["question"], k=args.k, history=history, filters=filters)
                if args.json or args.batch:
                    print(result.model_dump_json(), flush=True)
                else:
                    if result.standalone_question:
                        print(f"(searched for: {result.standalone_question})")
                    for h in result.hits:
                        who = f" — {', '.join(h.authors[:3])}" if h.authors else ""
                        ident = f" — arXiv:{h.arxiv_id}" if h.arxiv_id else ""
                        print(f"{h.rank:>2}. [{h.score:.4f}] {h.title}{who}{ident} ({h.paper_id})")
                continue
            if args.json or args.batch:
                answer = engine.ask(item["question"], k=args.k, history=history, filters=filters)
                print(answer.model_dump_json(), flush=True)
                continue
            stream = engine.ask_stream(item["question"], k=args.k, history=history, filters=filters)
            for delta in stream:
                print(delta, end="", flush=True)
            final, streamed = stream.answer, stream.text
            # The stream is a draft: citation repair or a failed endpoint's fallback changes the final text.
            if final.answer.strip() != streamed.strip():
                print(f"\n\n{VERIFIED_HEADER}\n" if streamed.strip() else "", end="")
                print(final.answer, end="")
            print()
            for w in final.warnings:
                if w not in final.answer:  # a fallback notice already opens the answer
                    print(f"note: {w}")
            if final.missing:  # what the corpus lacks, like a search engine's "Missing: ..."
                print(f"Missing: {', '.join(final.missing)}")
            _print_sources(final)
        except UserError as exc:
            if not args.batch:
                raise
            failures += 1
            question = clip(item["question"], limits.bounds.echo_chars)  # never a 100,000-character echo
            print(json.dumps({"error": f"{args.batch}:{no}: {exc}", "line": no, "question": question}), flush=True)
    return 1 if failures and args.batch else 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from rag.catalog import Catalog, build_catalog
    from rag.index import Generations

    settings = _settings(args)
    report = None
    current = Generations(Path(settings.data_dir)).current()  # the catalog of the answering index, if any
    path = current.catalog_path if current else Path(settings.data_dir) / "catalog.json"
    if args.corpus or args.report:
        papers, report = build_catalog(Path(settings.corpus_dir), settings.corpus)
    elif path.is_file():
        papers = Catalog.load(path).papers
    else:  # never silently list another folder's papers: the index asked for is not there
        raise UserError(
            f"no index in {settings.data_dir}: run `rag ingest --data-dir {settings.data_dir}` first, "
            "or list a corpus folder with --corpus"
        )
    if args.json:
        print(json.dumps([p.model_dump(mode="json") | {"url": p.url} for p in papers], ensure_ascii=False, indent=1))
        return 0
    for p in papers:
        derived = " (title derived from abstract)" if p.title_derived else ""
        authors = f" — {p.authors_display}" if p.authors else ""
        ident = f" — arXiv:{p.arxiv_id}" if p.arxiv_id else ""
        print(f"{p.paper_id}  {p.year or '    '}  {p.title}{derived}{authors}{ident}")
    print(f"{len(papers)} papers")
    if report is not None and args.report:
        print("\n".join(report.lines()))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    engine = _engine(args)
    report = engine.ingest(Path(args.corpus) if args.corpus else None, progress=not args.quiet, rebuild=args.rebuild)
    if args.verbose:
        print("\n".join(report.catalog_lines + report.notes))
        print(report.stage_line())
    else:
        merges = sum(1 for line in report.catalog_lines if line.startswith("merged"))
        print(f"{merges} papers merged from several pages (rag catalog --report lists them)")
        # Nothing skipped goes unsaid: each source's counts, and the first problems with their file:line.
        print("\n".join(line for line in report.catalog_lines if line.startswith(("pages:", "source "))))
        problems = [line for line in report.catalog_lines if line.startswith("skipped/noted")]
        print("\n".join(problems[:INGEST_PROBLEMS_SHOWN]))
        if len(problems) > INGEST_PROBLEMS_SHOWN:
            print(f"... and {len(problems) - INGEST_PROBLEMS_SHOWN} more problems (--verbose lists them all)")
        for note in report.notes:  # records skipped or trimmed: never silent
            print(f"note: {note}")
    print(report.summary())
    print(f"index: {engine.settings.data_dir}")
    if not report.papers:
        print("error: no paper could be read from the corpus: nothing to search", file=sys.stderr)
        return 1
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    engine = _engine(args)
    engine.retriever  # noqa: B018 - fail now, with a clear message, if there is no index
    from ui.app import serve  # the UI is a shell over the library; only this command reaches it

    server = engine.settings.server
    host = args.host or server.host
    if host not in ("127.0.0.1", "localhost", "::1") and not server.api_key:
        print(f"warning: serving on {host} without an API key: anyone who can reach it can use it (RAG_API_KEY)")
    serve(engine, host=host, port=args.port or server.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from rag.parse import FORMATS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="settings TOML file (default: $RAG_CONFIG or ./rag.toml)")
    common.add_argument("--data-dir", help="where the index lives (env RAG_DATA_DIR)")

    query = argparse.ArgumentParser(add_help=False)
    query.add_argument("question", nargs="*", help="the question (omit with --batch)")
    query.add_argument("--k", type=int, default=None, help="how many papers (default from settings)")
    query.add_argument("--json", action="store_true", help="print the JSON object")
    query.add_argument(
        "--batch", help='JSON-lines file (or -) of {"question", "history"}; one JSON object out per line'
    )
    query.add_argument("--author", action="append", help="only papers with this author (repeatable)")
    query.add_argument("--year", help="only papers from YYYY or YYYY-YYYY")
    query.add_argument("--category", help="only papers of this category (e.g. LG)")
    query.add_argument("--source", help="only papers read from this page format (e.g. profile)")

    parser = argparse.ArgumentParser(
        prog="rag", description="paperchat: cited answers over a corpus of paper abstracts"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("catalog", parents=[common], help="list the papers of the corpus")
    p.add_argument("--json", action="store_true", help="every field of every paper")
    p.add_argument("--corpus", help="build from this corpus folder instead of the indexed catalog")
    p.add_argument("--report", action="store_true", help="also print what was merged and skipped, and why")
    p.set_defaults(func=cmd_catalog)
    p = sub.add_parser("ingest", parents=[common], help="build or update the index from the corpus")
    p.add_argument("--corpus", help="corpus file, or folder (with manifest.json, or read whole); default corpus/")
    p.add_argument("--format", choices=FORMATS, help="read every corpus file as this format (default: detected)")
    p.add_argument("--rebuild", action="store_true", help="drop the index and embed everything again")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="list every merge and skipped line")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("search", parents=[common, query], help="rank papers for a question")
    p.set_defaults(func=lambda a: cmd_ask_or_search(a, ask=False))
    p = sub.add_parser("ask", parents=[common, query], help="answer a question with citations")
    p.set_defaults(func=lambda a: cmd_ask_or_search(a, ask=True))
    p = sub.add_parser("ui", parents=[common], help="start the chat UI (and HTTP API)")
    p.add_argument("--host", help="interface to bind (default server.host: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, help="port (default server.port: 7860)")
    p.set_defaults(func=cmd_ui)
    from rag import evaluate

    evaluate.register(sub, parents=[common])
    return parser


_READ_ONLY = (
    "the index cannot be written (a read-only folder or database): Chroma needs write access to the data dir "
    "even to search; copy it to a writable folder and pass --data-dir"
)


def _disk_problem(exc: OSError) -> str:
    """One line for a failure of the file system (permissions, a full disk, a file where a folder belongs)."""
    where = f": {exc.filename}" if exc.filename else ""
    if isinstance(exc, PermissionError):
        return f"permission denied{where} (check who owns the data dir, or pass another --data-dir)"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full{where}: free some space and run the command again (the index was not changed)"
    if exc.errno == errno.EROFS:
        return f"the file system is read-only{where}"
    if isinstance(exc, NotADirectoryError):
        return f"a file stands where a folder is needed{where}: pass --data-dir with a folder"
    return f"{exc.strerror or exc}{where}"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "question", None) == [] and not getattr(args, "batch", None):
        parser.error("give a question, or --batch FILE")
    try:
        code: int = args.func(args)
        return code
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {_disk_problem(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if "readonly database" in str(exc):  # sqlite under Chroma, whatever wrapper it comes in
            print(f"error: {_READ_ONLY}", file=sys.stderr)
            return 2
        if os.environ.get("RAG_DEBUG"):
            traceback.print_exc()
        print(f"error: unexpected {type(exc).__name__}: {exc} (RAG_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
