"""The feedback database's tables and the ordered migrations that build them; a newer bot upgrades an older file.

A migration, once shipped, never changes: a change to the schema is a new step at the end of MIGRATIONS.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
    update,
)

from bot.errors import CorruptDatabase

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

# The salt of user keys lives in the database, so every process sharing it hashes a user alike.
store_settings = Table(
    "store_settings",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)

answers = Table(
    "answers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime, nullable=False),  # UTC
    Column("platform", String(20), nullable=False),
    Column("user_key", String(64), nullable=False),  # a salted hash of the user id, never the id
    Column("inputs", LargeBinary, nullable=False),  # 784 bytes (28×28 uint8) per digit read, left to right
    Column("answer", String(40), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("model", String(64), nullable=False),  # the model file's hash
    Column("verdict", String(40)),  # None until rated; "right" or the digits the picture really shows
    Column("rated_at", DateTime),
    Index("answers_by_user", "user_key"),
)

# Kept in the transaction of every verdict, so `stats` sums a few rows instead of counting a million.
verdict_tally = Table(
    "verdict_tally",
    metadata,
    Column("answer", String(40), primary_key=True),
    Column("verdict", String(40), primary_key=True),
    Column("answers", BigInteger, nullable=False),
)

pictures_read = Table(
    "pictures_read",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("pictures", BigInteger, nullable=False),
)

# Pictures per reading time bucket (each 2% wider than the one before), from which the median is read.
reading_times = Table(
    "reading_times",
    metadata,
    Column("bucket", Integer, primary_key=True),
    Column("pictures", BigInteger, nullable=False),
)

SALT_SETTING = "user_key_salt"


def _first_schema(connection: Connection) -> None:
    """Version 1: the answers and the salt."""
    for table in (store_settings, answers):
        table.create(connection)
    connection.execute(insert(store_settings).values(name=SALT_SETTING, value=secrets.token_hex(32)))


def _tallies_and_counters(connection: Connection) -> None:
    """Version 2: the verdict tally and the persistent counters, filled from the answers already kept."""
    for table in (verdict_tally, pictures_read, reading_times):
        table.create(connection)
    rated = answers.c.verdict.is_not(None)
    connection.execute(
        insert(verdict_tally).from_select(
            ["answer", "verdict", "answers"],
            select(answers.c.answer, answers.c.verdict, func.count())
            .where(rated)
            .group_by(answers.c.answer, answers.c.verdict),
        )
    )
    connection.execute(
        insert(pictures_read).from_select(
            ["platform", "pictures"], select(answers.c.platform, func.count()).group_by(answers.c.platform)
        )
    )


def _answers_by_time(connection: Connection) -> None:
    """Version 3: answers found by age, so unrated ones past the retention are deleted without a full scan.

    Plain DDL, not an Index on the `answers` table, which would make the first schema's step create it too.
    """
    connection.execute(text("CREATE INDEX IF NOT EXISTS answers_by_time ON answers (created_at)"))


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_first_schema, _tallies_and_counters, _answers_by_time)
LATEST_VERSION = len(MIGRATIONS)
POSTGRES_MIGRATION_LOCK = 0x6469_6769  # any number, the same in every process: one migrates, the others wait


def migrate(connection: Connection, target_version: int = LATEST_VERSION) -> int:
    """Brings the schema up to `target_version` inside the caller's (write) transaction; returns the version found."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK})
    schema_version.create(connection, checkfirst=True)
    found = connection.scalar(select(schema_version.c.version))
    if found is None:
        connection.execute(insert(schema_version).values(version=0))
        found = 0
    if found > LATEST_VERSION:
        raise CorruptDatabase(
            f"the database has schema version {found}, made by a newer digit-bot (this one knows up to "
            f"{LATEST_VERSION}): upgrade the bot, or set DATABASE_URL to another database"
        )
    for version in range(found + 1, target_version + 1):
        MIGRATIONS[version - 1](connection)
        connection.execute(update(schema_version).values(version=version))
    return found
