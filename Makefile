# tidsnok: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= $(shell command -v pyenv >/dev/null 2>&1 && pyenv which python 2>/dev/null || command -v python3.12 || command -v python3)
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
	@echo "tidsnok: http://$(HOST):$(PORT)/"
	DEBUG=$${DEBUG:-1} EMAIL_BACKEND=$${EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend} \
	  $(BIN)/python -m tidsnok runserver $(HOST):$(PORT)

# Debian's Chromium drives the browser tests; no browser is ever downloaded.
test-deps: install
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test: test-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench-audit: install
	$(BIN)/python -m tidsnok bench audit --events 100000

clean:
	rm -rf $(VENV) var
