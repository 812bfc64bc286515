# The README's two commands: `make demo` and `make test`. Both build .venv from this project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean chromium iproute2
# apt-get needs root: sudo when make is not run as root (CI runs as root).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP) chromium iproute2
	$(BIN)/python -m pytest

# The report tests look at the pages in Debian's Chromium (tests/browser/chromium.py).
chromium:
	@command -v chromium >/dev/null || { \
		echo "make: installing Debian's chromium for the report tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The dashboard's access test reaches the director from a network namespace (`ip netns`, a veth pair).
iproute2:
	@command -v ip >/dev/null || { \
		echo "make: installing Debian's iproute2 for the dashboard access test"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq iproute2 >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_inference_check.py

clean:
	rm -rf $(VENV) build *.egg-info
