# Two entry points on a fresh machine: `make run` (the app) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The exact pair that installs offline on these machines; pyproject.toml keeps ranges.
TORCH_PIN := torch==2.14.1 torchvision==0.29.1
PORT ?= 8501

.PHONY: run test lint layers typecheck pytest bench bench-load gpu-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-run
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed-run
	$(VENV)/bin/explorer app --port $(PORT)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

# Each layer imports only from below (import-linter contracts in pyproject.toml).
layers: $(VENV)/.installed-test
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed-test
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=10

test: lint layers typecheck pytest

# Timings live here, never in tests: each script prints its measurements and ratios.
# (page_timing drives Chromium through Playwright, a test extra.)
bench: $(VENV)/.installed-test
	$(PY) benchmarks/catalog_snapshot.py --check tests/data/catalog_snapshot.json --timm
	$(PY) benchmarks/render_work.py
	$(PY) benchmarks/warm_render.py
	$(PY) benchmarks/arithmetic_view.py
	$(PY) benchmarks/mutation.py
	$(PY) benchmarks/trace_speed.py
	$(PY) benchmarks/trace_speed.py --all
	$(PY) benchmarks/diagram_speed.py
	$(PY) benchmarks/timm_catalog.py --processes 2
	$(PY) benchmarks/augment_speed.py
	$(PY) benchmarks/predict_latency.py --threads 1
	$(PY) benchmarks/inside_speed.py --threads 1
	$(PY) benchmarks/residual_speed.py
	$(PY) benchmarks/jobs_isolation.py
	$(PY) benchmarks/page_timing.py

# 60 concurrent websocket sessions over every page against a local server (loopback only,
# bounded rounds); then 60 that work their pages as hard as a student can.
bench-load: $(VENV)/.installed-run
	$(PY) benchmarks/classroom_load.py
	$(PY) benchmarks/heavy_load.py

# On a CUDA machine: predict, activations and Grad-CAM on resnet50 against the CPU, latencies.
gpu-check: $(VENV)/.installed-run
	$(PY) benchmarks/gpu_check.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
