"""The wheel as an operator installs it: into a fresh virtual environment, with its dependencies, run from elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Left out of the copy that is built: environments, caches, secrets and earlier builds (setuptools would pack
# whatever a stale build/lib holds).
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".env")
SHIPPED_MODEL_FILES = {"bot/models/digits.tflite", "bot/models/metrics.json", "bot/models/confusion_matrix.png"}

# None of the developer's settings (MODEL_PATH, DISCORD_TOKEN, ...) reaches the installed bot.
ONLY_PATH = {"PATH": os.environ.get("PATH", os.defpath)}

pytestmark = pytest.mark.install


def run(command: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def pip_environment() -> dict[str, str]:
    """This process's environment (pip's cache, index and proxy settings) without what would put the source on
    the installed bot's path."""
    hidden = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"}
    return {name: value for name, value in os.environ.items() if name not in hidden}


def pip_or_fail(command: list[str | Path], *, cwd: Path, what: str) -> None:
    try:
        result = run(command, cwd=cwd, env=pip_environment(), timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} took over 300 s; pip needs PyPI, or its cache, for setuptools and the bot's dependencies")
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {result.returncode}); pip needs PyPI, or its cache, for setuptools and "
            f"the bot's dependencies:\n{result.stderr[-3000:]}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the working tree, so no stale `build/` of the checkout gets into it."""
    source = tmp_path_factory.mktemp("source") / "digit-bot"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("dist")
    pip_or_fail(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, source],
        cwd=source,
        what="building the wheel",
    )
    (built,) = out.glob("digit_bot-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_bin(tmp_path_factory, wheel) -> Path:
    """A fresh virtual environment with the wheel and its dependencies (no extras) installed."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    pip_or_fail(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel],
        cwd=venv,
        what="installing the wheel with its dependencies",
    )
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path, mnist_test_split) -> Path:
    """A folder away from the source holding `seven.png`: MNIST's first test digit (a 7), dark ink on white."""
    images, labels = mnist_test_split
    assert labels[0] == 7
    Image.fromarray(255 - images[0]).resize((140, 140), Image.Resampling.BICUBIC).save(tmp_path / "seven.png")
    return tmp_path


def run_installed(venv_bin: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([venv_bin / "digit-bot", *args], cwd=cwd, env=ONLY_PATH, timeout=60)


def test_the_wheel_holds_the_bot_and_its_model_but_not_the_tests(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert SHIPPED_MODEL_FILES.issubset(names)
    modules = {path.relative_to(PROJECT_ROOT).as_posix() for path in PROJECT_ROOT.glob("bot/**/*.py")}
    missing = sorted(modules - names)
    assert not missing, f"not in the wheel: add their package to pyproject.toml's [tool.setuptools] packages: {missing}"
    packages = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert packages == {"bot", "model_training"}  # no tests/, fakes/, benchmarks/ or a top-level models/
    assert not [name for name in names if name.endswith((".keras", "learning_curves.png"))]


def test_the_installed_bot_reads_a_digit_from_another_folder(venv_bin, elsewhere):
    result = run_installed(venv_bin, "predict", "seven.png", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("seven.png: 7 — "), result.stdout


def test_predict_json_from_the_installed_bot(venv_bin, elsewhere):
    result = run_installed(venv_bin, "predict", "--json", "seven.png", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["file"], answer["digit"], answer["sure"], answer["error"]) == ("seven.png", 7, True, None)


def test_the_installed_bot_serves_the_model_inside_the_package(venv_bin, elsewhere):
    result = run(
        [venv_bin / "python", "-c", "import bot.settings as s; print(s.__file__); print(s.DEFAULT_MODEL_PATH)"],
        cwd=elsewhere,
        env=ONLY_PATH,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    module_file, model_path = map(Path, result.stdout.split())
    venv = venv_bin.parent
    assert module_file.is_relative_to(venv) and model_path.is_relative_to(venv), result.stdout
    assert model_path.parts[-3:] == ("bot", "models", "digits.tflite")


def test_help_from_the_installed_bot(venv_bin, elsewhere):
    result = run_installed(venv_bin, "--help", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "predict" in result.stdout


def test_the_installed_bot_reads_dotenv_from_its_working_directory(venv_bin, elsewhere):
    (elsewhere / ".env").write_text("CONFIDENCE_THRESHOLD=1.0\n")
    result = run_installed(venv_bin, "predict", "--json", "seven.png", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["digit"], answer["sure"]) == (7, False)


def test_the_bot_installs_without_tensorflow(venv_bin, elsewhere):
    result = run([venv_bin / "python", "-c", "import tensorflow"], cwd=elsewhere, env={}, timeout=60)
    assert result.returncode != 0
    assert "No module named 'tensorflow'" in result.stderr
