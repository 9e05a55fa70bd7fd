"""``make doctor`` looks at sessions 6 and 7 too: packages, port 8000, DATABASE_URL, Chromium."""

from __future__ import annotations

import socket

from workshop import doctor

DEAD_DATABASE = "postgresql+psycopg://127.0.0.1:1/test"


def test_session6_and_7_packages_are_importable():
    assert doctor.check_session6_packages().status == "OK"
    assert doctor.check_session7_engines().status == "OK"


def test_a_missing_engine_is_a_failure_with_the_fix(monkeypatch):
    monkeypatch.setitem(doctor.SESSION7_PACKAGES, "no_such_engine_xyz", "no-such-engine")
    check = doctor.check_session7_engines()
    assert check.status == "FAIL" and "no-such-engine" in check.detail
    assert "requirements.txt" in check.fix


def test_a_taken_port_is_a_warning_that_says_how_to_serve_elsewhere():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        check = doctor.check_serve_port(port=port)
    assert check.status == "WARN" and str(port) in check.detail, check
    assert "--port" in check.fix
    assert doctor.check_serve_port(port=port).status == "OK", "free again once closed"


def test_database_url_unset_means_sqlite(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    check = doctor.check_database_url()
    assert check.status == "OK" and "SQLite" in check.detail


def test_a_database_url_that_does_not_answer_fails(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DEAD_DATABASE)
    check = doctor.check_database_url()
    assert check.status == "FAIL" and "does not answer" in check.detail, check
    assert "unset DATABASE_URL" in check.fix


def test_a_database_url_that_answers_is_ok(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tasks.db'}")
    check = doctor.check_database_url()
    assert check.status == "OK" and "answers" in check.detail, check


def test_no_chromium_is_a_note_not_a_failure(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-such-browser"))
    check = doctor.check_chromium()
    assert check.status == "WARN" and "browser tests" in check.detail, check
    assert "CHROMIUM_PATH" in check.fix
