# The README's two commands: `make run` (installs, then runs the main job) and `make test`.
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

# Debian packages Sitter uses at run time (espeak-ng: `render --say`; fonts-noto-cjk: captions in Chinese, Japanese
# and Korean; libfribidi0: Pillow's raqm layout, for right-to-left captions), and those only the tests need
# (Chromium for the browser test, the PostgreSQL server the store tests start a throwaway cluster of).
RUN_PACKAGES := espeak-ng fonts-noto-cjk libfribidi0
TEST_PACKAGES := chromium postgresql

# Install the Debian packages in $(1) that are missing, where this machine can (root with apt-get);
# elsewhere say which are missing: the features that need them say how to get them, the tests skip.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $$missing"; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	elif [ -n "$$missing" ]; then echo "note: not installed: $$missing (apt-get install $$missing)"; fi
endef

$(BIN)/sitter: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: run test
run: $(BIN)/sitter
	$(call apt_install,$(RUN_PACKAGES))
	$(BIN)/sitter --help
	$(BIN)/sitter demo
	$(BIN)/sitter studio --port $(PORT)

test: $(BIN)/sitter
	$(call apt_install,$(RUN_PACKAGES) $(TEST_PACKAGES))
	$(BIN)/ruff check .
	$(BIN)/pytest -q
