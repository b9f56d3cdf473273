"""SQLite's writers take turns in the process; reads go beside them; a turn always ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from cloudnexus.config import load_settings
from cloudnexus.db.engine import create_db_engine, reading_engine


def _engine(tmp_path: Path) -> Engine:
    engine = create_db_engine(load_settings(database_url=f"sqlite:///{tmp_path / 'w.db'}"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counts (n INTEGER)"))
        connection.execute(text("INSERT INTO counts VALUES (0)"))
    return engine


def test_a_second_writer_waits_for_the_first_and_then_writes(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    second_wrote = threading.Event()

    def second_writer() -> None:
        with engine.begin() as connection:
            connection.execute(text("UPDATE counts SET n = n + 1"))
        second_wrote.set()

    with engine.begin() as connection:
        connection.execute(text("UPDATE counts SET n = n + 1"))
        writer = threading.Thread(target=second_writer)
        writer.start()
        # Not refused and not written: it waits its turn.
        assert not second_wrote.wait(0.3)
    writer.join(timeout=10)
    assert second_wrote.is_set()
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT n FROM counts")) == 2
    engine.dispose()


def test_a_read_goes_beside_a_writer(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.begin() as writing:
        writing.execute(text("UPDATE counts SET n = 5"))
        started = time.monotonic()
        with reading_engine(engine).begin() as reading:
            assert reading.scalar(text("SELECT n FROM counts")) == 0  # the last committed
        assert time.monotonic() - started < 1
    engine.dispose()


def test_a_turn_ends_with_a_rollback_or_a_failed_statement(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    connection = engine.connect()
    connection.begin()
    connection.execute(text("UPDATE counts SET n = 7"))
    connection.rollback()
    with pytest.raises(OperationalError), engine.begin() as failing:
        failing.execute(text("INSERT INTO no_such_table VALUES (1)"))
    finished = threading.Event()

    def writer() -> None:
        with engine.begin() as other:
            other.execute(text("UPDATE counts SET n = 1"))
        finished.set()

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(timeout=5)
    assert finished.is_set()
    connection.close()
    engine.dispose()
