"""Exercise 2: check a webhook's signature as a receiver must.

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

import hashlib  # noqa: F401 (you will need them)
import hmac  # noqa: F401


def sign(secret: str, timestamp: int, body: bytes) -> str:
    # TODO Part 1: HMAC-SHA256 with the secret over the timestamp, a dot and the body;
    # the header value is t=<timestamp>,v1=<hex digest>.
    raise NotImplementedError("Exercise 2, part 1: sign the timestamp and the body "
                              "(hint: make hint SESSION=9 EXERCISE=2)")


def verify(secret: str, header: str | None, body: bytes, now: float,
           tolerance: float = 300.0) -> int:
    # TODO Part 2: read t and v1 from the header, recompute the digest for that t, compare
    # in constant time, refuse a timestamp more than `tolerance` seconds from `now`.
    # Every refusal is a ValueError; success returns the timestamp.
    raise NotImplementedError("Exercise 2, part 2: verify the signature and its age "
                              "(hint: make hint SESSION=9 EXERCISE=2)")
