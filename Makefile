# The whole set-up: `make run` starts the app, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
PORT   ?= 8501

.PHONY: run test bench install lint clean

# Reinstall when the project's dependencies change.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,llm]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/streamlit run chat_app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# Two processes, a test file each at a time (a file's fixtures stay in one process).
TEST_JOBS ?= 2
test: install
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile

bench: install
	OMP_NUM_THREADS=1 $(BIN)/mtedit bench reconstruct --model tiny-random --turns 3 --size 64 --chain both --presets rf,rf_solver,fireflow,rf_inversion,mtc
	OMP_NUM_THREADS=1 $(BIN)/mtedit bench toy --scenes 6 --turns 4 --t2i 8 --nfe 18 --threads 1
	OMP_NUM_THREADS=1 $(BIN)/mtedit bench toy --scenes 4 --turns 4 --chain pixel --presets rf,mtc --nfe 18 --region auto --t2i 0 --threads 1
	OMP_NUM_THREADS=1 $(BIN)/python -m bench.reader_agreement --scenes 12
	OMP_NUM_THREADS=1 $(BIN)/python -m bench.planner
	OMP_NUM_THREADS=1 $(BIN)/python -m bench.navigation
	OMP_NUM_THREADS=1 $(BIN)/python -m bench.lineage_page --runs 1

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
