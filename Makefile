# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# PyTorch first, at the version tested. The pin chooses the version, not the build: which build
# (CPU or CUDA) comes is the package index's choice; pass another index in TORCH for another build.
TORCH ?= torch==2.13.0

.PHONY: venv demo test docs bench bench-quick bench-derivatives sweep clean dist

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The main job: fit the cameraman photo at 256×256, write results and figures to runs/demo.
# At most 1,500 steps or 85 s of fitting, whichever comes first: a machine without native
# bfloat16 (float32 steps) is held to the budget, with the schedule annealed over it.
demo: $(STAMP)
	$(BIN)/sirenkit fit image camera --size 256 --steps 1500 --time 85 --out runs/demo --overwrite
	$(BIN)/sirenkit render runs/demo --size 1024 --out runs/demo/render-1024.png --overwrite
	$(BIN)/sirenkit render runs/demo --size 1024 --what laplacian --out runs/demo/laplacian-1024.png --overwrite
	@echo "results: runs/demo (figure.png, psnr.png, reconstruction.png, metrics.json)"

# The linter and the type checker keep the shape of the code as it is (configured in pyproject.toml).
test: $(STAMP)
	$(BIN)/ruff check sirenkit tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The documentation site (docs/*.md and the API reference from the docstrings) into site/; any warning fails it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

# The Examples pages: every script of examples/gallery/ at full size (figures into docs/gallery/, times
# into docs/gallery/gallery.json, the page docs/examples.md), then the quickstart notebook with its outputs
# (docs/notebook.ipynb). The pages quote the times: run it on an otherwise idle machine.
.PHONY: gallery
gallery: $(STAMP)
	$(BIN)/python examples/gallery/build.py
	$(BIN)/python examples/notebook.py

clean:
	rm -rf runs .pytest_cache

# A wheel and an sdist into dist/ (the version is sirenkit.__version__); tests/test_packaging.py installs both.
dist: $(STAMP)
	$(BIN)/python -m build --outdir dist

# Step timings and time to quality against the paper's recipe, the bunny, audio and video (about 75 minutes on a 2-core CPU).
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

# The Benchmarks pages (docs/benchmarks/*.md) written from benchmarks/results/*.json; run it after a benchmark.
bench-pages: $(STAMP)
	$(BIN)/python benchmarks/tables.py

# Reconstruction from gradients on six tuning photos and three held-out ones, under the budget of a
# float32-only machine (360 s here stands for 540 s there; about an hour on a 2-core CPU).
bench-derivatives: $(STAMP)
	$(BIN)/python benchmarks/derivatives.py --time 360 --json benchmarks/results/derivatives-float32-360s-cpu.json

# The study behind the default image recipe (about 30 minutes on a 2-core CPU).
sweep: $(STAMP)
	$(BIN)/python benchmarks/sweep.py --json benchmarks/results/sweep-cpu.json
