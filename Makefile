# Two commands on a fresh machine:  `make demo` (run the consortium demo)  and  `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench proto clean

$(BIN)/lianfang: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

demo: $(BIN)/lianfang
	$(BIN)/lianfang demo

test: $(BIN)/lianfang
	@command -v redis-server >/dev/null || deploy/install-redis.sh
	@command -v chromedriver >/dev/null || deploy/install-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	LIANFANG_REQUIRE_BROWSER=1 $(BIN)/pytest -q

bench: $(BIN)/lianfang
	$(BIN)/python bench/check.py
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/stage1.py

proto: $(BIN)/lianfang
	$(BIN)/python proto/generate.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
