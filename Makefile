# The README's two commands: `make run` (installs, then runs the main job) and `make test`.
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/sitter: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: run test
run: $(BIN)/sitter
	$(BIN)/sitter --help
	$(BIN)/sitter demo

test: $(BIN)/sitter
	$(BIN)/ruff check .
	$(BIN)/pytest -q
