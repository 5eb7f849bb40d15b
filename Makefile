# One entry point for people and CI: `make demo`, `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system-deps demo test lint bench clean

$(BIN)/phasegraph: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/phasegraph

system-deps:
	bash .ci/system-deps

demo: setup
	$(BIN)/phasegraph demo

lint: setup
	$(BIN)/ruff check .
	bash .ci/mypy

test: system-deps lint
	$(BIN)/python -m pytest -q

# The benchmarks: one JSON line per result (see the README's table).
bench: setup
	cd bench && for script in vs_react floor scale verify_parallel real_repo start eager_reads targeted edit_robustness; do \
		../$(BIN)/python $$script.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
