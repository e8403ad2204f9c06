# Quick start: `make run` (a search on the embedded default) and `make test`.
# Each sets up what it needs: a virtual environment in .venv, the CPU build of PyTorch
# where none is installed, and archsearch itself in editable mode.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_CPU := torch==2.13.0

.PHONY: run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_CPU)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/archsearch run

test: $(BIN)/.installed
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/nb201_protocol.py

clean:
	rm -rf $(VENV) runs
