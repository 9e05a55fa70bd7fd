"""The bad-input corpus: tasks a queue will meet sooner or later, and what must become of each.

Each case says how the bad input reaches Redis and what the outcome must be:

- ``api``: a producer calls ``add_task(data)`` with a dict that is valid JSON but
  does not describe work the worker can do (a missing field, an unknown filter...);
- ``raw``: the task hash is written directly (a value of None leaves that field out), the way ``redis-cli HSET`` or a
  producer in another language could, so the worker meets data that ``add_task``
  would never have let through (not JSON, a list, non-UTF-8 bytes, no data field);
- ``raw_id``: an id is pushed straight into the pending list (``redis-cli LPUSH``),
  with no task hash, or as bytes that are not text at all;
- ``refused``: ``add_task`` itself refuses the data (nothing is queued).

The outcome is ``failed`` (session 4 has only a failed list), ``dlq`` (session 5:
permanent errors go straight to the dead-letter queue) or ``completed``, with
substrings the stored reason must contain: the reason has to say what was wrong.

``s4`` is None where session 4 defines no behaviour: it has no allowed folders
(a task may read and write any path the worker can) and no payload size limit;
both arrive in session 5.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workshop.images import generated_image


@dataclass(frozen=True)
class Expect:
    outcome: str  # "failed", "dlq", "completed" or "refused" (add_task raised)
    reason: tuple[str, ...] = ()  # substrings of the stored reason (or the raised message)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "api", "raw", "raw_id" or "refused"
    payload: Any  # api/refused: a dict; raw: {"data": ...} or {} ; raw_id: bytes or str
    s5: Expect
    s4: Expect | None


@dataclass(frozen=True)
class Files:
    """The files the corpus points at: allowed folders, one outside, and damaged images."""

    root: Path
    inbox: Path  # allowed: images are read from here
    outbox: Path  # allowed: results are written here
    outside: Path  # NOT allowed (session 5): a perfectly good image lives here

    @property
    def good(self) -> Path:
        return self.inbox / "good.jpg"

    def out(self, name: str) -> str:
        return str(self.outbox / f"{name}.png")


def make_files(root: Path) -> Files:
    """Write the good image and every damaged one under ``root``."""
    files = Files(root, root / "inbox", root / "outbox", root / "outside")
    for folder in (files.inbox, files.outbox, files.outside):
        folder.mkdir(parents=True, exist_ok=True)
    image = generated_image(96, 72, seed=3)
    image.save(files.good, quality=90)
    image.save(files.outside / "secret.jpg", quality=90)
    (files.inbox / "empty.jpg").write_bytes(b"")
    whole = files.good.read_bytes()
    (files.inbox / "truncated.jpg").write_bytes(whole[: len(whole) * 6 // 10])
    (files.inbox / "notes.jpg").write_text("Shopping list: milk, eggs, a real JPEG.\n")
    (files.inbox / "bomb.png").write_bytes(decompression_bomb_png())
    return files


def decompression_bomb_png(side: int = 20_000) -> bytes:
    """A valid PNG of ``side`` x ``side`` black 1-bit pixels: ~60 KB on disk.

    Decoded as 8-bit it would take side**2 bytes (400 MB for 20000): the classic
    "decompression bomb". A loader must refuse it from the header, before decoding.
    """
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def good_task(files: Files, n: int) -> dict[str, Any]:
    return {"image_path": str(files.good), "output_path": files.out(f"good-{n}")}


HUGE_BYTES = 2_000_000  # above session 5's MAX_TASK_BYTES (1 MB)


def build_cases(files: Files) -> list[Case]:
    """The corpus, with paths filled in from ``files``."""
    good, inbox = str(files.good), files.inbox

    def image(name: str, **extra: Any) -> dict[str, Any]:
        return {"image_path": good, "output_path": files.out(name), **extra}

    def from_inbox(filename: str, name: str) -> dict[str, Any]:
        return {"image_path": str(inbox / filename), "output_path": files.out(name)}

    return [
        # --- not a task at all (written by hand into Redis) -------------------------
        Case("not_json", "raw", {"data": "{this is not JSON"},
             s5=Expect("dlq", ("not a JSON object", "Expecting property name")),
             s4=Expect("failed", ("unreadable task", "JSONDecodeError"))),
        Case("json_list", "raw", {"data": "[1, 2, 3]"},
             s5=Expect("dlq", ("not a JSON object", "found list")),
             s4=Expect("failed", ("must be a dict", "got list"))),
        Case("json_number", "raw", {"data": "42"},
             s5=Expect("dlq", ("not a JSON object", "found int")),
             s4=Expect("failed", ("must be a dict", "got int"))),
        Case("json_null", "raw", {"data": "null"},
             s5=Expect("dlq", ("not a JSON object", "found NoneType")),
             s4=Expect("failed", ("must be a dict", "got NoneType"))),
        Case("hash_without_data", "raw", {},
             s5=Expect("dlq", ("no 'data' field",)),
             s4=Expect("failed", ("unreadable task", "KeyError('data')"))),
        # A hand-written hash without the attempt limit: the task itself is fine.
        Case("hash_without_max_attempts", "raw",
             {"data": json.dumps(image("no-limit")), "max_attempts": None},
             s5=Expect("completed"), s4=Expect("completed")),
        Case("id_without_hash", "raw_id", "made-up-id",
             s5=Expect("dlq", ("no task record", "by hand")),
             s4=Expect("failed", ("unreadable task", "by hand"))),
        # Both sessions read such bytes as escaped text that writes back as the same
        # bytes: the data is then checked like any other, and session 4 fails an id that
        # is not text as one more id without a task (session 5's script quarantines it).
        Case("non_utf8_id", "raw_id", b"\xff\xfe\xfd-not-text",
             s5=Expect("dlq", ("not UTF-8",)), s4=Expect("failed", ("unreadable task", "by hand"))),
        Case("non_utf8_data", "raw", {"data": b'{"image_path": "\xff\xfe.jpg"}'},
             s5=Expect("dlq", ("output_path",)), s4=Expect("failed", ("output_path",))),
        # --- JSON objects with missing, extra or mistyped fields -------------------
        Case("missing_all_fields", "api", {},
             s5=Expect("dlq", ("image_path", "output_path")),
             s4=Expect("failed", ("image_path", "output_path"))),
        Case("missing_output_path", "api", {"image_path": good},
             s5=Expect("dlq", ("output_path",)), s4=Expect("failed", ("output_path",))),
        # Extra fields are ACCEPTED: producers attach metadata (a trace id, a label,
        # who asked), and a newer producer may add an optional field that an older
        # worker does not know yet. Refusing them would make every rolling upgrade
        # fail tasks. The fields a handler uses are checked; the rest are carried.
        Case("extra_fields_accepted", "api",
             image("extra", comment="from the web form", trace_id="abc123", priority=5),
             s5=Expect("completed"), s4=Expect("completed")),
        Case("image_path_not_text", "api", {"image_path": 42, "output_path": files.out("x")},
             s5=Expect("dlq", ("image_path", "not text")),
             s4=Expect("failed", ("image_path", "not text"))),
        Case("filters_not_a_list", "api", image("f7", filters=7),
             s5=Expect("dlq", ("'filters' must be a list",)),
             s4=Expect("failed", ("'filters' must be a list",))),
        # Session 5 checks the type when the task is added; session 4 when it runs.
        Case("type_not_text", "api", {"type": 5},
             s5=Expect("refused", ("'type'", "got 5")), s4=Expect("failed", ("unknown task type 5",))),
        Case("empty_type_written_by_hand", "raw", {"type": "", "data": '{"type": ""}'},
             s5=Expect("dlq", ("unknown task type ''",)),
             s4=Expect("failed", ("unknown task type ''",))),
        Case("sleep_seconds_not_a_number", "api", {"type": "sleep", "seconds": "ten"},
             s5=Expect("dlq", ("seconds", "'ten'")), s4=Expect("failed", ("seconds", "'ten'"))),
        Case("unknown_task_type", "api", {"type": "resize", "width": 10},
             s5=Expect("dlq", ("unknown task type 'resize'",)),
             s4=Expect("failed", ("unknown task type 'resize'",))),
        # --- filters ------------------------------------------------------------
        Case("unknown_filter", "api", image("uf", filters=["sharpen"]),
             s5=Expect("dlq", ("sharpen", "grayscale")),
             s4=Expect("failed", ("sharpen", "grayscale"))),
        Case("filter_parameter_out_of_range", "api", image("fr", filters=["blur:radius=-5"]),
             s5=Expect("dlq", ("radius", "-5")), s4=Expect("failed", ("radius", "-5"))),
        Case("filter_parameter_not_a_number", "api",
             image("fn", filters=["brightness:factor=bright"]),
             s5=Expect("dlq", ("factor", "bright")), s4=Expect("failed", ("factor", "bright"))),
        Case("unknown_filter_parameter", "api", image("fu", filters=["blur:sigma=2"]),
             s5=Expect("dlq", ("sigma",)), s4=Expect("failed", ("sigma",))),
        # --- paths (session 4 has no allowed folders: it reads and writes anywhere) --
        Case("input_path_traversal", "api",
             {"image_path": str(inbox / ".." / "outside" / "secret.jpg"),
              "output_path": files.out("trav-in")},
             s5=Expect("dlq", ("UnsafePathError", "outside the folders")), s4=None),
        Case("output_path_traversal", "api",
             {"image_path": good, "output_path": str(files.outbox / ".." / ".." / "evil.png")},
             s5=Expect("dlq", ("UnsafePathError", "outside the folders")), s4=None),
        Case("absolute_path_outside", "api",
             {"image_path": str(files.outside / "secret.jpg"), "output_path": files.out("abs")},
             s5=Expect("dlq", ("UnsafePathError", "outside the folders")), s4=None),
        Case("system_file_as_output", "api",
             {"image_path": good, "output_path": "/etc/hostname.png"},
             s5=Expect("dlq", ("UnsafePathError",)), s4=None),
        Case("output_extension_unknown", "api",
             {"image_path": good, "output_path": str(files.outbox / "result.xyz")},
             s5=Expect("dlq", ("'.xyz'",)), s4=Expect("failed", ("'.xyz'",))),
        # --- files that are not good images --------------------------------------
        Case("missing_file", "api", from_inbox("nothing-here.jpg", "miss"),
             s5=Expect("dlq", ("InvalidImageError", "found nothing")),
             s4=Expect("failed", ("InvalidImageError", "found nothing"))),
        Case("zero_byte_file", "api", from_inbox("empty.jpg", "empty"),
             s5=Expect("dlq", ("InvalidImageError", "empty")),
             s4=Expect("failed", ("InvalidImageError", "empty"))),
        Case("truncated_jpeg", "api", from_inbox("truncated.jpg", "trunc"),
             s5=Expect("dlq", ("InvalidImageError", "truncated")),
             s4=Expect("failed", ("InvalidImageError", "truncated"))),
        Case("text_file_named_jpg", "api", from_inbox("notes.jpg", "text"),
             s5=Expect("dlq", ("InvalidImageError", "not an image", "Shopping")),
             s4=Expect("failed", ("InvalidImageError", "not an image", "Shopping"))),
        Case("decompression_bomb", "api", from_inbox("bomb.png", "bomb"),
             s5=Expect("dlq", ("InvalidImageError", "refusing image")),
             s4=Expect("failed", ("InvalidImageError", "refusing image"))),
        # --- size ------------------------------------------------------------------
        Case("huge_payload_via_add_task", "refused", image("huge", blob="x" * HUGE_BYTES),
             s5=Expect("refused", ("bytes", "limit")), s4=None),
        # The size limit guards the door (add_task). A producer that writes the hash
        # itself gets past it, and the worker runs the (otherwise valid) task: the
        # case pins that down, so a change in either direction is noticed.
        Case("huge_payload_written_by_hand", "raw",
             {"data": json.dumps(image("huge-raw", blob="x" * HUGE_BYTES))},
             s5=Expect("completed"), s4=None),
        # An OSError counts as transient in session 5, so this one is tried
        # max_attempts times before the DLQ; the reason still says what was wrong.
        Case("huge_image_path", "api",
             {"image_path": str(inbox / ("a" * 100_000 + ".jpg")), "output_path": files.out("hp")},
             s5=Expect("dlq", ("File name too long",)), s4=Expect("failed", ("File name too long",))),
    ]
