# tidsnok: `make run` serves the demo, `make test` runs the whole suite.
# The first Python 3.12 found: pyenv's choice (.python-version), python3.12, a pyenv
# install when pyenv is not on PATH; else python3, which the version check refuses.
PYTHON ?= $(shell { for p in "$$(pyenv which python 2>/dev/null)" "$$(command -v python3.12)" \
  $$HOME/.pyenv/versions/3.12*/bin/python; do [ -x "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' \
  2>/dev/null && echo "$$p"; done; echo python3; } | head -n 1)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export TIDSNOK_DEV_SECRETS ?= 1

.PHONY: run test install test-deps messages migrate demo clean bench-audit

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else "tidsnok needs Python 3.12 (see .python-version)")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

install: $(STAMP) messages

# Translations are compiled from the .po files in the repository (gettext's msgfmt).
messages: $(STAMP)
	@command -v msgfmt >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq gettext)
	$(BIN)/python -m tidsnok compilemessages --ignore=.venv --verbosity=0

migrate: install
	$(BIN)/python -m tidsnok migrate --no-input
	$(BIN)/python -m tidsnok createcachetable

demo: migrate
	$(BIN)/python -m tidsnok demo

run: demo
	$(BIN)/python -m tidsnok collectstatic --no-input --verbosity=0
	@echo "tidsnok: http://$(HOST):$(PORT)/   e-mails: $${TIDSNOK_DATA_DIR:-var}/mail/"
	@# The web server and a sweep worker (reminders, e-mail) side by side; Ctrl-C stops both.
	DEBUG=$${DEBUG:-1} EMAIL_URL=$${EMAIL_URL:-file://$${TIDSNOK_DATA_DIR:-$(CURDIR)/var}/mail} sh -c '\
	  $(BIN)/python -m tidsnok sweep --loop & sweep=$$!; \
	  trap "kill $$sweep 2>/dev/null; wait $$sweep" EXIT INT TERM; \
	  $(BIN)/python -m tidsnok runserver $(HOST):$(PORT)'

# Debian's Chromium drives the browser tests; no browser is ever downloaded.
test-deps: install
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# With bytecode caches (git ignores them) even where the environment sets PYTHONDONTWRITEBYTECODE:
# without them every worker rewrote the asserts of every test module again (about 25 s of
# collection per run) and every child process the suite starts compiled tidsnok anew.
test: test-deps
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

bench-audit: install
	$(BIN)/python -m tidsnok bench audit --events 100000

clean:
	rm -rf $(VENV) var
