"""Operations: stats, workers, the DLQ, pause/resume, health, readiness, metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from ..backends import Backends
from ..metrics import CONTENT_TYPE
from ..queue_ops import is_paused, pause
from ..schemas import (
    DlqItem,
    Health,
    PauseState,
    Purged,
    QueueStats,
    Readiness,
    Replayed,
    WorkerView,
)
from .common import INVALID, UNAUTHORIZED, AppState, error, require_token

router = APIRouter(tags=["operations"])
CHANGES_STATE = [Depends(require_token)]


@router.get("/stats", response_model=QueueStats)
def stats(state: AppState) -> QueueStats:
    """Counts per state in Redis and in the database, unsent outbox rows, paused or not."""
    return QueueStats(queue=state.queue.get_stats(), database=state.store.counts(),
                      outbox_unsent=state.store.unsent_count(), paused=is_paused(state.queue))


@router.get("/workers", response_model=list[WorkerView])
def workers(state: AppState) -> list[WorkerView]:
    """Registered workers: alive or lost, heartbeat time left, tasks in flight."""
    queue = state.queue
    return [WorkerView(worker_id=w.worker_id, alive=w.alive, ttl_left=w.ttl_left,
                       heartbeat_ttl=queue.settings.heartbeat_ttl, last_seen=w.last_seen,
                       in_flight=list(w.in_flight))
            for w in queue.workers()]


@router.get("/dlq", response_model=list[DlqItem], responses={**INVALID})
def dlq(state: AppState, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[DlqItem]:
    """The dead-lettered tasks, newest first, with the reason."""
    return [DlqItem(id=t.id, type=t.type, attempts=t.attempts, reason=t.reason, error=t.error,
                    finished_at=t.finished_at)
            for t in state.queue.dlq_tasks(limit)]


@router.post("/dlq/{task_id}/replay", response_model=Replayed, dependencies=CHANGES_STATE,
             responses={404: error("this id is not in the DLQ"), **UNAUTHORIZED})
def replay(task_id: str, state: AppState) -> Replayed:
    """Send one dead-lettered task back to pending, with fresh attempts."""
    if not state.queue.replay(task_id):
        raise HTTPException(404, f"task {task_id!r} is not in the dead-letter queue; "
                                 f"GET /dlq lists the ids that are")
    state.catch_up(task_id)
    return Replayed(id=task_id, status="pending")


@router.delete("/dlq", response_model=Purged, dependencies=CHANGES_STATE,
               responses={**UNAUTHORIZED})
def purge(state: AppState) -> Purged:
    """Delete every dead-lettered task from Redis for good (the database rows stay)."""
    return Purged(purged=state.queue.purge_dlq())


def _set_paused(state: Backends, paused: bool) -> PauseState:
    state.recovery.remember_pause(paused)  # restored if Redis loses its data
    return PauseState(paused=pause(state.queue, paused))


@router.post("/queue/pause", response_model=PauseState, dependencies=CHANGES_STATE,
             responses={**UNAUTHORIZED})
def pause_queue(state: AppState) -> PauseState:
    """Workers finish what they hold and claim nothing until resumed."""
    return _set_paused(state, True)


@router.post("/queue/resume", response_model=PauseState, dependencies=CHANGES_STATE,
             responses={**UNAUTHORIZED})
def resume_queue(state: AppState) -> PauseState:
    return _set_paused(state, False)


@router.get("/health", response_model=Health)
def health() -> Health:
    """The process is alive (it says nothing about Redis or the database: see /ready)."""
    return Health(status="ok")


@router.get("/ready", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Redis or the database is down"}})
def ready(state: AppState) -> JSONResponse:
    """``200`` when Redis and the database both answer, else ``503`` saying which does not."""
    try:
        state.queue.client.ping()
        redis_ok = True
    except Exception:
        redis_ok = False
    database_ok = state.store.ping()
    down = [name for name, ok in (("redis", redis_ok), ("database", database_ok)) if not ok]
    body = Readiness(redis=redis_ok, database=database_ok)  # False: that one is down
    return JSONResponse(body.model_dump(), status_code=503 if down else 200,
                        headers={"Retry-After": str(state.config.outage_retry_after)} if down
                        else None)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {}},
                             "description": "Prometheus text format"}})
def metrics(state: AppState) -> Response:
    """Prometheus text: tasks by state, claims, completions, failures, recovery latency."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
