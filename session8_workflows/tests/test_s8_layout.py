"""Session 8 is a layer on session 5: it imports session 5's queue and copies none of its files."""

import hashlib
from pathlib import Path

import session5_recovery
import session8_workflows
from session5_recovery.workers import RedisTaskQueue
from session8_workflows import WorkflowQueue

S8 = Path(session8_workflows.__file__).parent
S5 = Path(session5_recovery.__file__).parent


def digests(folder: Path) -> dict[str, Path]:
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p
            for p in folder.rglob("*") if p.is_file() and p.suffix in (".py", ".lua")
            and p.stat().st_size > 200}


def test_the_queue_is_session_5s_extended_not_copied():
    assert issubclass(WorkflowQueue, RedisTaskQueue)
    copies = {d: p for d, p in digests(S8).items() if d in digests(S5)}
    assert not copies, f"files copied from session 5: {sorted(map(str, copies.values()))}"


def test_the_package_exports_chain_group_and_chord():
    assert {"chain", "group", "chord"} <= set(session8_workflows.__all__)
