"""Shared fixtures and helpers: the MNIST file from ../shared/data, the shipped model, the core as the chat bot tests
run it, digit pictures the model reads right, and how an answer is read."""

from __future__ import annotations

import io
import itertools
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.settings import DEFAULT_MODEL_PATH, Settings
from model_training.data import MNIST_NPZ

if TYPE_CHECKING:
    from bot.service import DigitService
    from fakes.discord_server import SentMessage as DiscordMessage
    from fakes.telegram_server import SentMessage as TelegramMessage

MAX_IMAGE_BYTES = 1_000_000  # the largest picture the chat bot tests' core reads


@pytest.fixture(scope="session")
def mnist_npz() -> Path:
    if not MNIST_NPZ.is_file():
        pytest.fail(f"MNIST is not at {MNIST_NPZ}: set MNIST_NPZ or DIGIT_BOT_SHARED_DATA")
    return MNIST_NPZ


@pytest.fixture(scope="session")
def mnist_test_split(mnist_npz):
    import numpy as np

    with np.load(mnist_npz) as npz:
        return npz["x_test"], npz["y_test"]


@pytest.fixture(scope="session")
def shipped_model_path() -> Path:
    return DEFAULT_MODEL_PATH


@pytest.fixture(scope="session")
def recognizer(shipped_model_path):
    from bot.recognizer import Recognizer

    return Recognizer(shipped_model_path)


@pytest.fixture(scope="module")
def model_path(shipped_model_path) -> Path:
    """The shipped model, which the bot tests need: without it they fail saying how to make one."""
    if not shipped_model_path.is_file():
        pytest.fail(f"no model at {shipped_model_path}: train one with `python -m model_training`")
    return shipped_model_path


def core_settings(model_path: Path, **changes: object) -> Settings:
    """The core's settings in the bot tests: pictures up to MAX_IMAGE_BYTES, no cooldown and a fresh SQLite file
    in a temporary folder, unless `changes` say."""
    defaults = {
        "max_image_bytes": MAX_IMAGE_BYTES,
        "user_cooldown_seconds": 0,
        "database_url": temporary_database_url(),
    }
    return Settings(model_path=model_path, **{**defaults, **changes})


def temporary_database_url() -> str:
    """A new SQLite file's URL, in a folder removed when the tests end: no test writes into the project."""
    return f"sqlite:///{_TEMPORARY_DATABASES.name}/{next(_database_numbers)}.sqlite3"


_TEMPORARY_DATABASES = tempfile.TemporaryDirectory(prefix="digit-bot-test-db-")
_database_numbers = itertools.count()


def make_service(model_path: Path, **settings_changes: object) -> DigitService:
    """The core as the bot builds it from `core_settings(model_path, **settings_changes)`; the caller closes it."""
    from bot.service import DigitService

    return DigitService.from_settings(core_settings(model_path, **settings_changes))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real PostgreSQL server for the session, from the pgserver wheel (it ships PostgreSQL's binaries)."""
    try:
        import pgserver
    except ImportError:
        pytest.fail("pgserver is missing: pip install -e '.[dev]' (the storage tests run on a real PostgreSQL)")
    server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="delete")
    yield server
    server.cleanup()


def new_postgres_database(server) -> str:
    """A new, empty database on `server`; its postgresql:// URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"feedback_{next(_database_numbers)}"
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return make_url(server.get_uri()).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """A new, empty database, once SQLite and once PostgreSQL: every storage test runs on both."""
    if request.param == "sqlite":
        return temporary_database_url()
    return new_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture(scope="module")
def readable_digit(mnist_test_split, recognizer) -> Callable[..., bytes]:
    """`readable_digit(7, nth=0, style="paper_photo")`: the first (or `nth`) MNIST test 7 that the recognizer reads
    right when drawn as a chat picture in `style` (by default a phone photo of paper, what most users send).

    So the bot tests check the bot's plumbing (each answer says what its picture shows, in the right place),
    not the model's accuracy, which the model's own tests measure.
    """
    import numpy as np

    from model_training.chat_pictures import render_chat_picture

    images, labels = mnist_test_split

    def readable_drawings(digit: int, style: str) -> Iterator[bytes]:
        for index in np.flatnonzero(labels == digit):
            data = render_chat_picture(images[index], style, np.random.default_rng(index))
            (result,) = recognizer.read_many([data])
            if getattr(result, "digit", None) == digit:
                yield data

    def picture(digit: int, *, nth: int = 0, style: str = "paper_photo") -> bytes:
        return next(itertools.islice(readable_drawings(digit, style), nth, None))

    return picture


def blank_page_png() -> bytes:
    """A white page: a picture with no digit on it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (200, 200), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def first_digit(answer: DiscordMessage | TelegramMessage) -> int:
    """The first digit a reader meets in the bot's answer: the one the bot says it read."""
    match = re.search(r"\d", answer.text)
    assert match, f"no digit in {answer.text!r}"
    return int(match.group())
