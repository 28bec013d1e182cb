# Two commands work on a fresh machine: `make run` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
EXTRAS  ?= dev
# The related docs: a local mirror when one sits beside the repo, else downloaded once.
RELATED_DIR ?= $(wildcard ../shared/related)
RELATED_FLAG := $(if $(RELATED_DIR),--related-dir $(RELATED_DIR),--related)
STAMP   := $(VENV)/.installed-$(EXTRAS)

.PHONY: run test test-fast fuzz install install-local ingest eval bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Reinstall only when pyproject.toml changes (the stamp is newer otherwise).
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e '.[$(EXTRAS)]'
	touch $@

install: $(STAMP)

install-local:
	$(MAKE) install EXTRAS=dev,local

ingest: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/assistant ingest --if-stale $(RELATED_FLAG)

run: ingest
	HF_HUB_OFFLINE=1 $(VENV)/bin/assistant serve

test:
	$(MAKE) install EXTRAS=dev,local
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -rs

test-fast: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not slow"

# A long, randomised fuzz run (CI replays fixed examples; run this before each submission).
FUZZ_EXAMPLES ?= 3000
fuzz: install
	HF_HUB_OFFLINE=1 HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:randomly \
		tests/test_fuzz_ask.py tests/test_fuzz_ingest.py -k "many_examples" --hypothesis-show-statistics

eval: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/assistant eval $(RELATED_FLAG)

bench: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/assistant bench

clean:
	rm -rf $(VENV) .pytest_cache
