# The commands a person types. Everything installs into .venv from requirements.lock.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench lock demo clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Make a development signing key if none; migrate, load the samples and demo accounts; serve on 127.0.0.1:8000 with a background worker.
run: export HISTORY_WITNESS_FILE ?= .history-witness.dev
run: $(STAMP)
	$(BIN)/python manage.py make_signing_key
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_samples
	$(BIN)/python manage.py create_demo_accounts
	$(BIN)/python manage.py schedule_verification
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py db_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver 127.0.0.1:8000

## The whole suite, on SQLite or on the database DATABASE_URL names, in TEST_WORKERS processes:
## first the tests that do not commit, shared out test by test, then those that do, a module at
## a time (one Chromium a module; tests/conftest.py says why they run apart). Exit status 5 is
## a run that PYTEST_ARGS left with no tests.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS)
test: $(STAMP)
	$(PYTEST) --dist worksteal -m "not commits" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PYTEST) --dist loadfile -m commits $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Measure (bench/METHOD.md); history is signed with the development key, as with make run.
bench: $(STAMP)
	$(BIN)/python manage.py make_signing_key
	$(BIN)/python -m bench $(BENCH_ARGS)

## Re-resolve the pinned dependencies after editing pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.12 -o requirements.lock

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
