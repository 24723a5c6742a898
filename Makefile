# Two commands from a fresh clone: `make run` (the bot, or the console chat without a token) and `make test`.
# Each creates .venv when it is missing and installs what it needs; pyproject.toml changes reinstall.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MNIST_NPZ ?= $(abspath ../shared/data/mnist.npz)
DATABASE_URL ?= sqlite:///data/digit-bot.sqlite3

.PHONY: run test wheel train train-mlp retrain bench lint format clean

run: $(VENV)/.bot-installed
	$(BIN)/python -m bot

# Lint first: a style slip fails in seconds, before the suite's minutes.
test: lint
	$(BIN)/python -m pytest

# The wheel that the systemd unit and the Docker image (deploy/) install: dist/digit_bot-*.whl.
# setuptools would pack whatever an earlier build left in build/lib, so that goes first.
wheel: | $(BIN)/python
	rm -rf build/lib build/bdist.* dist/digit_bot-*.whl
	$(BIN)/python -m pip wheel --no-deps --wheel-dir dist .

train: $(VENV)/.dev-installed
	MNIST_NPZ=$(MNIST_NPZ) $(BIN)/python -m model_training --arch cnn --out models

# The shipped CNN again, plus the digits users corrected in DATABASE_URL (the bot's own setting and default).
retrain: $(VENV)/.dev-installed
	MNIST_NPZ=$(MNIST_NPZ) $(BIN)/python -m model_training --arch cnn --out models --corrections $(DATABASE_URL)

train-mlp: $(VENV)/.dev-installed
	MNIST_NPZ=$(MNIST_NPZ) $(BIN)/python -m model_training --arch mlp --out build/mlp

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/recognizer_speed.py
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/hostile_pictures.py
	$(BIN)/python benchmarks/discord_burst.py
	$(BIN)/python benchmarks/telegram_burst.py
	$(BIN)/python benchmarks/hostile_uploads.py
	$(BIN)/python benchmarks/spam.py
	$(BIN)/python benchmarks/shutdown.py
	$(BIN)/python benchmarks/soak.py
	$(BIN)/python benchmarks/feedback_store.py

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The bot alone: no TensorFlow.
$(VENV)/.bot-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Training and tests: TensorFlow, matplotlib, pytest, hypothesis, ruff.
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[train,dev]"
	touch $@ $(VENV)/.bot-installed

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis
