# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned where this machine installs it (a CPU wheel lies on disk).
TORCH_PIN ?= torch==2.13.0
# A local mirror of the pinned data, used when present (as in CI); else it is downloaded.
SHARED_DATA ?= $(abspath ../shared/data)
DATA_ENV := $(if $(wildcard $(SHARED_DATA)/README.md),MOLOCH_EVAL_DATA_DIR=$${MOLOCH_EVAL_DATA_DIR:-$(SHARED_DATA)},)

.PHONY: demo test bench lint typecheck pytest clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_PIN)" -e ".[train,dev]"
	touch $@

demo: $(BIN)/.installed
	$(DATA_ENV) $(BIN)/moloch-eval demo

# The throughput benchmark (issue 6): a few minutes; BENCH_ARGS=--quick for a small run.
bench: $(BIN)/.installed
	$(DATA_ENV) $(BIN)/python -m benchmarks.throughput $(BENCH_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check moloch_eval tests benchmarks
	$(BIN)/ruff format --check moloch_eval tests benchmarks

typecheck: $(BIN)/.installed
	$(BIN)/mypy

pytest: $(BIN)/.installed
	MOLOCH_EVAL_DATA_DIR=$${MOLOCH_EVAL_DATA_DIR:-$(SHARED_DATA)} $(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
