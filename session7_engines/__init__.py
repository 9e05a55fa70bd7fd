"""Session 7: the same image task on the engines people run, side by side with ours.

Session 5 built, by hand, what production task queues do. This session runs
session 2's image pipeline (``session2_pipeline``, imported) on
Dramatiq, RQ and Celery with their Redis brokers, and on a Redis Streams
consumer group of our own (``streams.py``), then measures in one run what each
does when a worker is killed mid-task: ``python -m session7_engines.compare``.

- ``work.py``: the task all engines run, and the ledger of starts and finishes;
- ``dramatiq_app.py``, ``rq_jobs.py``, ``celery_app.py``: each engine's task and
  reliability settings (``settings.py``: recommended or defaults);
- ``streams.py`` and ``streams_worker.py``: our consumer group and its command;
- ``runners.py``: start each engine's own worker command, enqueue, ask where a task ended;
- ``compare.py``: throughput, kill -9 and poison, printed as one table.
"""

