"""RQ: the job function that ``rq worker`` runs, and how to enqueue it.

Started by the harness as::

    rq worker --with-scheduler --serializer rq.serializers.JSONSerializer --url <url> <queue>

with ``RQ_KEY_PREFIX`` set so that every RQ key of a run is under its own prefix.
Where RQ keeps each behaviour (files in the rq package):

- claim: ``queue.py`` pops a job id with a blocking pop and ``worker/`` records it
  in the ``StartedJobRegistry`` (``registry.py``) with a deadline;
- the job runs in a forked *work horse*; ``worker/worker_classes.py``
  (``monitor_work_horse``) notices at once when the horse dies
  ("Work-horse terminated unexpectedly") and fails the job, or retries it if it
  has ``retries_left``;
- retries: ``Retry(max=3, interval=[...])`` from ``job.py``; delayed retries need
  ``--with-scheduler``; by default a job is not retried at all;
- the DLQ is the ``FailedJobRegistry`` (``registry.py``), kept ``failure_ttl``
  (a year by default); ``StartedJobRegistry.cleanup`` moves abandoned jobs there;
- results: the job hash, kept ``result_ttl`` (500 s by default);
- serialisation: pickle unless told otherwise; we pass ``JSONSerializer``.
"""

from __future__ import annotations

from .work import perform


def image_job(task_id: str, data: dict) -> dict:
    """RQ stores the return value as the job's result."""
    return perform(task_id, data)


def retry_intervals() -> list[float]:
    """Seconds before each retry, doubling (RQ takes a list and adds no jitter)."""
    from . import settings

    return [min(settings.MAX_BACKOFF_S * 2, 1.0 * 2**n) for n in range(settings.MAX_RETRIES)]
