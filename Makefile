# Two commands get a newcomer going:  make demo   and   make test
# Each creates .venv, installs requirements.txt (once, again when it changes) and runs.
# Windows without make: see README, "Windows" (python -m workshop ...).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SESSION ?=
EXERCISE ?=
# make bench / make notebooks write under output/; FIGURES=refresh rewrites the
# committed notebooks/figures/ instead (on purpose, to update what the READMEs show).
FIGURES ?=
REFRESH := $(filter refresh,$(FIGURES))
# The session numbers, from the folders that exist (session1_basics -> 1), for make help.
SESSIONS := $(sort $(foreach d,$(wildcard session[0-9]*_*/),$(firstword $(subst _, ,$(d:session%=%)))))

.PHONY: help install demo test check hint doctor bench notebooks lab redis serve lint clean

help:
	@echo "make demo       run the flagship demo (creates .venv on first use)"
	@echo "make test       run the whole test suite"
	@echo "make check      check your own exercises (SESSION=N for one: $(SESSIONS))"
	@echo "make hint       the next hint for your first unfinished part (SESSION=6 EXERCISE=1)"
	@echo "make doctor     preflight: Python, packages, Redis, output dir; sessions 6-7 too"
	@echo "make bench      queue throughput table, ratios to a reference queue (saved to output/bench.json)"
	@echo "make notebooks  run the notebooks fully; figures go to output/notebooks/figures/"
	@echo "                (FIGURES=refresh: bench and notebooks rewrite notebooks/figures/)"
	@echo "make lab        JupyterLab on notebooks/ (outputs are stripped when you save)"
	@echo "make redis      start a local Redis server if one is installed"
	@echo "make serve      session 6: the API, two workers and the relay (Ctrl-C stops all)"

# Session packages are listed too: the editable install maps the packages that exist when it
# runs, so a new session folder (after a git pull) triggers a reinstall.
$(STAMP): requirements.txt pyproject.toml $(wildcard session*/__init__.py)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ is needed, found " + sys.version.split()[0] + ". Run: make PYTHON=python3.12 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m workshop demo

# Four pytest workers (pytest-xdist), each taking a whole test file at a time, so a file's
# module-scoped server or browser is started once. Four on two cores because most tests
# wait (on servers, worker processes, heartbeats), not compute: two workers left the cores
# two-thirds idle. The files go out longest first (workshop/suite_time.py).
# TEST_WORKERS=0: one process, no workers.
TEST_WORKERS ?= 4

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Exercises left to do are progress, not an error: make check shows the table and
# exits 0. `python -m workshop check` itself exits 1 until every exercise passes,
# and 2 if pytest cannot run them (then make check fails too).
check: $(STAMP)
	@$(PY) -m workshop check $(SESSION) || [ $$? -eq 1 ]

# One hint a call, for the first part whose tests do not pass yet: a nudge, the idea,
# then the shape of the code (workshop/hints.py; the hints are in exercises/HINTS.md).
hint: $(STAMP)
	@$(if $(and $(EXERCISE),$(if $(SESSION),,none)),\
		echo "EXERCISE needs SESSION too: make hint SESSION=6 EXERCISE=1" >&2; exit 2,\
		$(PY) -m workshop hint $(SESSION) $(EXERCISE))

doctor: $(STAMP)
	$(PY) -m workshop doctor

bench: $(STAMP)
	$(PY) -m workshop bench $(if $(REFRESH),--update-figures,)

notebooks: $(STAMP)
	$(PY) -m workshop notebooks $(if $(REFRESH),--update-figures,)

# Saving a workshop notebook strips its outputs (workshop/jupyter_hooks.py), so a run
# in Jupyter never changes the tracked file; the figures go to output/.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ \
		--ContentsManager.pre_save_hook=workshop.jupyter_hooks.strip_outputs_before_save

redis: $(STAMP)
	$(PY) -m workshop redis

serve: $(STAMP)
	$(PY) -m session6_api serve

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache output
