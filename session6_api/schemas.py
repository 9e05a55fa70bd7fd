"""The JSON shapes of the API (pydantic models): they are the OpenAPI schema at /openapi.json,
so the docs page, the fuzzer (schemathesis) and the dashboard all read the same contract."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from session2_pipeline.core import FilterFactory, PipelineInputError

from .vocabulary import PRIORITIES, STATUSES

# Literal[tuple] is Literal[*tuple]: the enum in /openapi.json is session 5's own words.
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]
MAX_FILTERS = 10


class TaskRequest(BaseModel):
    """The body of ``POST /tasks``."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                       description="an image id from POST /images, or a sample's name",
                       examples=["photo_grace_hopper.jpg"])
    filters: list[str] = Field(default_factory=list, max_length=MAX_FILTERS,
                               description="filter specs applied in order; empty: the default "
                                           "pipeline (blur, edges, grayscale)",
                               examples=[["blur:radius=2", "grayscale"]])
    priority: Priority = "normal"

    @field_validator("filters")
    @classmethod
    def filters_exist(cls, specs: list[str]) -> list[str]:
        """Unknown filters and bad parameters are refused now (422), not by a worker later."""
        if specs:
            try:
                FilterFactory.pipeline(specs)
            except PipelineInputError as error:
                raise ValueError(str(error)) from None  # it names the step and the valid filters
        return specs


class Links(BaseModel):
    self: str
    events: str
    result: str


class TaskAccepted(BaseModel):
    """The ``202`` answer: the id to follow and where (``Location`` says it too)."""

    id: str
    status: Status
    links: Links


class TaskView(BaseModel):
    """A task as the database knows it (``GET /tasks/{id}``)."""

    id: str
    status: Status
    priority: Priority
    image: str
    filters: list[str]
    attempts: int
    error: str | None
    worker_id: str | None
    created_at: float = Field(description="epoch seconds")
    updated_at: float
    started_at: float | None
    finished_at: float | None
    links: Links
    image_name: str | None = Field(None, description="the uploaded file's name (cleaned, "
                                   "for display only); null for samples")


class TaskPage(BaseModel):
    items: list[TaskView]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; "
                                                "null on the last page")


class ImageCreated(BaseModel):
    id: str
    width: int
    height: int
    format: str
    name: str | None = Field(None, description="the uploaded file's name, cleaned and at "
                             "most 100 characters, kept for display only; never a path")


class QueueStats(BaseModel):
    """Counts from Redis (``queue``), from the database (``database``), and the outbox."""

    queue: dict[str, int]
    database: dict[str, int]
    outbox_unsent: int
    paused: bool


class WorkerView(BaseModel):
    worker_id: str
    alive: bool
    ttl_left: float | None = Field(description="seconds until its heartbeat expires; "
                                               "null: expired (lost)")
    heartbeat_ttl: float = Field(description="the full TTL, to draw ttl_left against")
    last_seen: float
    in_flight: list[str]


class DlqItem(BaseModel):
    id: str
    type: str
    attempts: int
    reason: str | None
    error: str | None
    finished_at: float | None


class Replayed(BaseModel):
    id: str
    status: Status


class Purged(BaseModel):
    purged: int


class PauseState(BaseModel):
    paused: bool


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    redis: bool
    database: bool


class ErrorBody(BaseModel):
    """Every error that is not a validation error: one line saying what and how to fix it."""

    detail: str


class OutageBody(ErrorBody):
    """A 503: which backend did not answer (the request changed nothing; retry later)."""

    backend: Literal["redis", "database"]


class ValidationItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """``422``: which field, what was wrong, what is allowed (FastAPI's own shape)."""

    detail: list[ValidationItem]
