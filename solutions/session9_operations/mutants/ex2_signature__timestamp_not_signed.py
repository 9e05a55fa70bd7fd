"""Mistake: only the body is signed, so an attacker can put a fresh timestamp on a
captured delivery and replay it whenever they like.

Rejected by:
    test_ex2_signature.py::TestPart2_verify::test_a_changed_timestamp_breaks_the_signature

Exercise 2: check a webhook's signature as a receiver must.

The sender signs ``"<timestamp>.<body>"`` with HMAC-SHA256 and a shared secret and
sends ``Webhook-Signature: t=<timestamp>,v1=<hex digest>``. The receiver recomputes
the digest and compares; the timestamp is inside the MAC, so it cannot be changed,
and a delivery older than the tolerance is refused: a captured request sent again
later (a replay) fails.

- Part 1: ``sign(secret, timestamp, body)`` returns the header value.
- Part 2: ``verify(secret, header, body, now, tolerance=300)`` returns the timestamp,
  or raises ``ValueError`` if the header is missing or malformed, the digest does not
  match (compared in constant time: ``hmac.compare_digest``), or
  ``|now - timestamp| > tolerance``.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, now: float,
           tolerance: float = 300.0) -> int:
    if not header:
        raise ValueError("no signature header")
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        raise ValueError(f"no t=<timestamp> in {header!r}") from None
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, fields.get("v1", "")):
        raise ValueError("signature does not match")
    if abs(now - timestamp) > tolerance:
        raise ValueError("too old: a replay?")
    return timestamp
