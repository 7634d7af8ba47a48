# The project's commands. README documents `make run` and `make test`; the rest are helpers.
# Everything runs in a local virtual environment, .venv/, made on first use.

# The first Python >= 3.11 on PATH (override: make PYTHON=/path/to/python3.12 ...).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV   := .venv
BIN    := $(VENV)/bin
# Name of the run folder under runs/ (default: date and time).
RUN    ?= $(shell date +%Y%m%d-%H%M%S)
# What `make test` runs, and the run folder its notebooks train into (tests may narrow both).
PYTEST_ARGS  ?= tests notebooks
TEST_RUN_DIR ?= $(CURDIR)/runs/test

.PHONY: run test reference install clean

# Re-install only when the dependency list changes.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || test -n "$(PYTHON)" || \
		{ echo "This project needs Python 3.11 or newer on PATH (python3, python3.11, 3.12 or 3.13)." >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## The main job: execute notebooks 01.. in order on the default data into runs/$(RUN)/.
run: $(VENV)/.installed
	$(BIN)/python -m helpers.runner --run-dir runs/$(RUN)

## The whole test suite: unit tests, real-data tests and nbval on the notebooks.
## Notebooks write figures into runs/test/, never into the committed figures/.
test: $(VENV)/.installed
	CELEB_RUN_DIR=$(TEST_RUN_DIR) $(BIN)/python -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg $(PYTEST_ARGS)

## Regenerate the committed reference notebooks and figures/ (needs CELEB_DATA_DIR).
reference: $(VENV)/.installed
	$(BIN)/python -m helpers.runner --reference

clean:
	rm -rf runs/test .pytest_cache
