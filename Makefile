# Two entry points for a new machine:  make demo  (set up + run the main job)   make test  (set up + tests)
# `make demo` installs only what scoring needs (no torch); `make test` adds torch and the dev extras.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check
# The CPU build of torch (training only; scoring needs no torch). Override for a CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test prepare app bench clean

$(PY):
	@echo "==> creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> upgrading pip"
	$(PIP) -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	@echo "==> installing ecgdl and what scoring needs: numpy, scipy, wfdb, onnxruntime (CPU), tqdm"
	$(PIP) -e .
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.installed-run
	@echo "==> installing $(TORCH_SPEC) (training and export only; the largest download, a few minutes)"
	$(PIP) "$(TORCH_SPEC)"
	@echo "==> installing the dev extras: training, the viewer (streamlit, plotly), tests (pytest, playwright, ...)"
	$(PIP) -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

demo: $(VENV)/.installed-run
	@echo "==> ecgdl demo: scoring MIT-BIH record 200 with the shipped model (outputs in out/demo)"
	$(VENV)/bin/ecgdl demo

NODE_EXAMPLE := examples/node/node_modules/.installed
$(NODE_EXAMPLE): examples/node/package.json
	@if command -v npm >/dev/null; then cd examples/node && npm install --ignore-scripts --no-audit --no-fund && touch node_modules/.installed; else echo "npm not found: the Node example test will skip"; fi

test: setup $(NODE_EXAMPLE)
	$(PY) -m pytest -q

prepare: setup
	$(PY) pipelines/prepare.py

app: setup
	$(VENV)/bin/ecgdl app

clean:
	rm -rf $(VENV) cache runs .pytest_cache
