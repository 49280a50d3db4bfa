# Two entry points for a new machine:  make demo  (set up + run the main job)   make test  (set up + tests)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of torch (training only; scoring needs no torch). Override for a CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test prepare app bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
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
