"""Tests for exercise 1: the idempotency key.

Run: pytest session6_api/exercises/test_ex1_idempotency.py

Each test runs on SQLite and on PostgreSQL (skipped with a message if none answers).
"""

import pytest
import sqlalchemy as sa

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

BODY = {"image": "photo.jpg", "filters": ["blur:radius=2", "grayscale"], "priority": "high"}


@pytest.fixture
def db(database_url, table_prefix):
    engine = sa.create_engine(database_url)
    metadata = sa.MetaData()
    table = ex.tasks_table(metadata, f"{table_prefix}ex1_tasks")
    metadata.create_all(engine)
    yield engine, table
    metadata.drop_all(engine)
    engine.dispose()


def rows(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# --- Part 1 ---------------------------------------------------------------------


class TestPart1_Fingerprint:
    def test_key_order_and_spacing_do_not_change_the_fingerprint(self):
        reordered = {"priority": "high", "filters": ["blur:radius=2", "grayscale"], "image": "photo.jpg"}
        assert ex.fingerprint(BODY) == ex.fingerprint(reordered), (
            "fingerprint() gave two values for the same body written in another key order; "
            "serialise with sorted keys")

    def test_every_value_counts(self):
        changed = [{**BODY, "priority": "low"}, {**BODY, "filters": ["grayscale", "blur:radius=2"]},
                   {**BODY, "image": "other.jpg"}]
        prints = {ex.fingerprint(body) for body in [BODY, *changed]}
        assert len(prints) == 4, "two different bodies got the same fingerprint"

    def test_a_fingerprint_is_a_sha256_hex_digest(self):
        value = ex.fingerprint(BODY)
        assert isinstance(value, str) and len(value) == 64 and int(value, 16) >= 0


# --- Part 2 ---------------------------------------------------------------------


class TestPart2_CreateTask:
    def test_same_key_and_body_give_the_same_task_once(self, db):
        engine, table = db
        first = ex.create_task(engine, table, BODY, "key-1")
        again = ex.create_task(engine, table, dict(reversed(list(BODY.items()))), "key-1")
        assert first[1] is True and again == (first[0], False), (
            f"create_task(..., 'key-1') twice returned {first} then {again}; expected the same "
            f"id and created=False the second time")
        assert rows(engine, table) == 1

    def test_same_key_with_another_body_is_refused_and_writes_nothing(self, db):
        engine, table = db
        ex.create_task(engine, table, BODY, "key-2")
        with pytest.raises(ex.IdempotencyConflict):
            ex.create_task(engine, table, {**BODY, "priority": "low"}, "key-2")
        assert rows(engine, table) == 1

    def test_without_a_key_every_call_is_a_new_task(self, db):
        engine, table = db
        ids = {ex.create_task(engine, table, BODY)[0] for _ in range(3)}
        assert len(ids) == 3 and rows(engine, table) == 3

    def test_different_keys_are_different_tasks(self, db):
        engine, table = db
        assert ex.create_task(engine, table, BODY, "a")[0] != ex.create_task(engine, table, BODY, "b")[0]


def winner(engine, table, key, body):
    """Another request with ``key`` that inserted its row just now."""
    with engine.begin() as conn:
        conn.execute(table.insert().values(id="winner", idempotency_key=key,
                                           fingerprint=ex.fingerprint(body), body="{}"))


# --- Part 3 ---------------------------------------------------------------------


class TestPart3_Race:
    def test_losing_the_race_answers_with_the_winners_task(self, db):
        engine, table = db
        winner(engine, table, "race", BODY)
        # This request looked before the winner inserted, found nothing, and inserts now.
        result = ex.insert_or_existing(engine, table, BODY, "race", ex.fingerprint(BODY))
        assert result == ("winner", False), f"got {result}, expected the winner's id, created=False"
        assert rows(engine, table) == 1

    def test_losing_the_race_with_another_body_is_a_conflict(self, db):
        engine, table = db
        winner(engine, table, "race2", BODY)
        other = {**BODY, "image": "else.jpg"}
        with pytest.raises(ex.IdempotencyConflict):
            ex.insert_or_existing(engine, table, other, "race2", ex.fingerprint(other))

    def test_no_race_inserts_a_row(self, db):
        engine, table = db
        task_id, created = ex.insert_or_existing(engine, table, BODY, "calm", ex.fingerprint(BODY))
        assert created and rows(engine, table) == 1 and len(task_id) == 32
