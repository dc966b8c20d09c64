"""Writers for the SQLite concurrency test, in their own module: spawned processes import it
without the test module's conftest imports (which resolve differently in a child process)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from classrec.web import crud
from classrec.web.db import Database

ROWS = 30


def write_rows(url: str, lecture_id: str, writer: int) -> None:
    """One process adding bookmarks, one transaction each (the shape of many page requests)."""
    db = Database(url)
    for i in range(ROWS):
        with db.session() as session:
            lecture = session.get(crud.Lecture, lecture_id)
            crud.add_bookmark(session, lecture, lecture.owner_id, float(i), f"w{writer}-{i}")
    db.engine.dispose()


def hold_write_lock(path: Path, seconds: float) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()
