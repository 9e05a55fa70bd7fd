"""The comparison's table and command line, without starting anything (no Redis needed)."""

from __future__ import annotations

import pytest

from session7_engines import compare

RESULTS = {
    "machine": {"cores": 2, "python": "3.11", "redis_server": "7.0", "dramatiq": "2",
                "rq": "3", "celery": "5"},
    "sizes": {"seconds": 1.0, "repeats": 1},
    "throughput": {"session5|noop|1": 100.0, "session5|noop|2": 200.0,
                   "session5|image|1": 10.0, "session5|image|2": 20.0,
                   "rq|noop|1": 5.0, "rq|noop|2": None, "rq|image|1": 2.0, "rq|image|2": 4.0},
    "kill": [{"engine": "rq", "profile": "defaults", "came_back": False, "runs": 1,
              "recovery_s": None, "ended": "failed job registry", "restarts": 0},
             {"engine": "celery", "profile": "recommended", "error": "the task never started"}],
    "poison": {"rq": {"runs": 4, "restarts": 0, "ended": "failed job registry"}},
    "skipped": ["dramatiq defaults kill -9: ..."],
}


def test_the_table_shows_ratios_to_session5_measured_in_the_same_run():
    text = compare.render(RESULTS)
    rq_row = next(line for line in text.splitlines() if line.startswith("rq "))
    assert "0.05x" in rq_row and "0.20x" in rq_row, rq_row  # 5/100 and 4/20
    assert "-" in rq_row.split()[3], "an unfinished measurement shows as '-', not as a number"


def test_the_table_says_what_happened_to_each_killed_task():
    text = compare.render(RESULTS)
    assert "failed job registry" in text and "the task never started" in text
    assert "skipped: dramatiq defaults" in text


def test_an_unknown_engine_is_refused_with_the_list(capsys):
    with pytest.raises(SystemExit) as exit_info:
        compare.main(["--engines", "sidekiq"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "sidekiq" in err and "dramatiq" in err


@pytest.fixture
def no_rabbitmq(monkeypatch):
    """As if RabbitMQ were not running (and nothing else needed: the machine line is faked)."""
    line = "RabbitMQ is not running at amqp://...: start it with `docker compose up -d rabbitmq`"
    monkeypatch.setattr(compare, "unavailable", lambda url=None: line)
    monkeypatch.setattr(compare, "machine", lambda url: RESULTS["machine"])
    return line


def test_without_rabbitmq_its_rows_are_skipped_with_how_to_start_it(no_rabbitmq, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    results = compare.run(True, ["dramatiq+rabbitmq", "celery+rabbitmq"], "redis://unused")
    assert results["kill"] == [] and results["throughput"] == {}
    assert any(no_rabbitmq in line and "celery+rabbitmq" in line for line in results["skipped"])


def test_under_ci_a_missing_rabbitmq_is_a_failure_not_a_skip(no_rabbitmq, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeError, match="must run"):
        compare.run(True, ["celery+rabbitmq"], "redis://unused")


def test_the_rabbitmq_rows_sit_beside_the_redis_ones():
    results = {**RESULTS, "poison": {
        "dramatiq+rabbitmq": {"runs": 3, "restarts": 2, "ended": "dead-letter exchange -> x"}}}
    text = compare.render(results)
    row = next(line for line in text.splitlines() if line.startswith("dramatiq+rabbitmq"))
    assert row.split() == ["dramatiq+rabbitmq", "3", "2", "dead-letter", "exchange", "->", "x"]
