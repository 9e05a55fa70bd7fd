"""Session 6: the queue behind a web API, with a database.

Session 5's queue (``session5_recovery.workers``) and its tools
(``session5_recovery.tools``), imported unchanged, behind a FastAPI app that
answers ``202 Accepted`` at once, keeps every task in a SQL database (SQLAlchemy
Core: SQLite by default, PostgreSQL with ``DATABASE_URL``), hands tasks to Redis
through an outbox and a relay, follows them over Server-Sent Events and exposes
the operations (stats, workers, DLQ, pause, metrics).

- config.py: every setting, read from the environment (``DATABASE_URL``, ``API_TOKEN``...);
- store.py: the tables (tasks, outbox) and the one place that writes them;
- relay.py: outbox rows -> Redis, under the task's own id (safe to repeat);
- sync.py: the event stream -> task rows, with a fenced update (safe to repeat);
- app.py and routers/: the HTTP contract, one router module per area;
- cli.py: ``python -m session6_api serve`` (API + workers + relay in one command);
- teaching/: the variants the lessons compare with (dual writes, work done in the
  request, ``python -m session6_api.teaching.bench``); testing/: a live server and
  Chromium for the tests. Neither is part of the service.
- workers.py: ``python -m session6_api.workers``, session 5's queue commands on this
  session's queue.
"""
