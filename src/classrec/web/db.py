"""Engine, sessions and schema migration; the same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DataError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from classrec.errors import ClassRecError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


BAD_VALUE = (
    "the request holds a value the database cannot take "
    "(a NUL character, a number out of range or too long a text)"
)


def _bad_value(context: ExceptionContext) -> Exception | None:
    """A hostile value (a NUL in a text, an id past 2**31) fails inside the database driver: on
    PostgreSQL as a data exception (SQLSTATE class 22), on SQLite as OverflowError past 2**63.
    It is the client's mistake: a one-line ClassRecError (400), not a 500 with a traceback."""
    if isinstance(context.sqlalchemy_exception, DataError):
        return ClassRecError(BAD_VALUE)
    if isinstance(context.original_exception, OverflowError):
        return ClassRecError(BAD_VALUE)
    return None


def _utc_session(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI types vary
    """PostgreSQL hands back times in the server's TimeZone setting: a lecture listed as
    "00:39+13:45" was "10:54Z" when it was made. The app stores and shows UTC, as on SQLite."""
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
    dbapi_conn.commit()  # a SET inside a transaction would be undone by the pool's rollback


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, foreign keys and cross-thread use (the threadpool needs it)."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
        event.listen(engine, "handle_error", _bad_value)
        event.listen(engine, "connect", _utc_session)
        return engine
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        hide_parameters=True,  # an error's log record must not carry e-mails or password hashes
    )
    event.listen(engine, "handle_error", _bad_value)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI types vary
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def insert_unless_exists(session: Session, model: type[DeclarativeBase], **values: Any) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL): one statement whether or not a
    unique column already holds the value, so there is no race between a check and the insert,
    and the work (and time) is the same either way. True if the row was added."""
    dialects = {"sqlite": sqlite, "postgresql": postgresql}
    insert = dialects[session.get_bind().dialect.name].insert
    return session.execute(insert(model).values(**values).on_conflict_do_nothing()).rowcount == 1


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (run at startup, so a fresh database works)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Database:
    """Holds the engine and hands out sessions that commit on success and roll back on error."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
