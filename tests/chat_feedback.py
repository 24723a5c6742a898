"""What the chat front ends' verdict tests share: a core on its own SQLite feedback file, and that file locked."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.service import DigitService
from tests.conftest import make_service, temporary_database_url


@pytest.fixture
def database_url() -> str:
    return temporary_database_url()


@pytest.fixture
def service(model_path, database_url) -> Iterator[DigitService]:
    with core_on(model_path, database_url) as service:
        yield service


@contextmanager
def core_on(model_path: Path, database_url: str) -> Iterator[DigitService]:
    """The core of one bot process on `database_url`: a second one on the same URL is the bot after a restart."""
    service = make_service(model_path, database_url=database_url)
    try:
        yield service
    finally:
        service.close()


@contextmanager
def locked(database_url: str) -> Iterator[None]:
    """Another process holding the SQLite file's write lock, as a stuck writer would."""
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
