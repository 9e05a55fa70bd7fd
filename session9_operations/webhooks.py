"""Webhooks: tell another system, over HTTP, that a task has ended.

A task may carry ``webhook_url``. When it ends for good (completed or dead-lettered)
the worker queues a *delivery*: a task of type ``webhook`` on the same queue, so it
inherits everything session 5 gives a task: retries with backoff (on 5xx and
timeouts), the dead-letter queue after its attempts, recovery if a worker dies.

The receiver must be able to trust and de-duplicate what it gets:

- the body is signed with HMAC-SHA256 over ``"<timestamp>.<body>"`` (the scheme
  Stripe and GitHub use), sent as ``Webhook-Signature: t=<timestamp>,v1=<hex>``;
  ``verify_signature`` is what a receiver runs, refusing a stale timestamp (a replay);
- every delivery carries a ``Webhook-Id`` that stays the same on every retry (it is
  the delivery task's id, derived from the task's): at-least-once delivery means a
  receiver sees duplicates, and drops the ids it has already seen.

A URL comes from a client, and the worker fetches it from inside the network:
server-side request forgery. So only ``http(s)``, no credentials in the URL, only
hosts on ``WEBHOOK_ALLOWED_HOSTS``, and every address the host resolves to is
checked: loopback, link-local, private and reserved ones are refused unless the
address itself is listed (or the host is ``localhost``, listed by name). The request
then goes to the address that was checked, not to a second lookup of the name.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from session5_recovery.workers import (
    DuplicateTaskError,
    InvalidTaskError,
    PermanentTaskError,
    QueueKeys,
    RedisTaskQueue,
    TaskContext,
    TransientTaskError,
)

ALLOWED_HOSTS_ENV = "WEBHOOK_ALLOWED_HOSTS"
SECRET_ENV = "WEBHOOK_SECRET"
TIMEOUT_ENV = "WEBHOOK_TIMEOUT"
SIGNATURE_HEADER = "Webhook-Signature"
ID_HEADER = "Webhook-Id"
REPLAY_TOLERANCE = 300.0  # seconds: a signature older than this is refused (a replay)
DELIVERY_TYPE = "webhook"
DELIVERY_ID_PREFIX = "whk-"  # a delivery's id (and its task's id) starts with it

Resolver = Callable[[str], Sequence[str]]


class WebhookUrlError(InvalidTaskError):
    """A webhook URL the service will not call (permanent: retrying will not fix it)."""


class SignatureError(ValueError):
    """A delivery whose signature is missing, wrong or too old."""


def allowed_hosts_from_env() -> frozenset[str]:
    raw = os.environ.get(ALLOWED_HOSTS_ENV, "")
    return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())


def resolve_addresses(host: str) -> list[str]:
    """Every address ``host`` resolves to (all of them are checked, not only the first)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise WebhookUrlError(f"webhook host {host!r} does not resolve ({error})") from None
    return sorted({info[4][0] for info in infos})


def check_webhook_url(url: Any, allowed_hosts: frozenset[str] | None = None, *,
                      resolve: Resolver | None = None) -> str:
    """Return ``url`` if the service may POST to it; WebhookUrlError (one line) if not."""
    checked_addresses(url, allowed_hosts, resolve=resolve)
    return url


def checked_addresses(url: Any, allowed_hosts: frozenset[str] | None = None, *,
                      resolve: Resolver | None = None) -> list[str]:
    """Every check of ``check_webhook_url``; the addresses ``url``'s host resolved to, all allowed."""
    allowed = allowed_hosts_from_env() if allowed_hosts is None else allowed_hosts
    if not isinstance(url, str) or not url:
        raise WebhookUrlError(f"webhook_url must be an http(s) URL as text, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlError(f"webhook_url must use http or https, not {parts.scheme or 'no'} "
                              f"scheme: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("webhook_url must not carry credentials (user:password@); the "
                              "receiver checks the signature instead")
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookUrlError(f"webhook_url has no host: {url!r}")
    if host not in allowed:
        raise WebhookUrlError(f"webhook host {host!r} is not on {ALLOWED_HOSTS_ENV} "
                              f"({', '.join(sorted(allowed)) or 'empty'}); add it there to allow it")
    addresses = list((resolve or resolve_addresses)(host))
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        internal = (ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_reserved
                    or ip.is_multicast or ip.is_unspecified)
        # An internal address passes only if the allow-list names it literally (or
        # names "localhost"): listing a public name must not open the private network.
        if internal and str(ip) not in allowed and not (host == "localhost" and ip.is_loopback):
            raise WebhookUrlError(
                f"webhook host {host!r} resolves to {ip}, an internal address (loopback, "
                f"link-local or private); list {ip} on {ALLOWED_HOSTS_ENV} if that is intended")
    return addresses


def pinned_request(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL aimed at ``address`` (the one we checked), with the Host header and, for
    https, the TLS server name of the original host: (url, headers, httpx extensions).

    Resolving the name again when connecting would let a DNS answer that changed in
    between (DNS rebinding) send us to an address we never checked.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    headers = {"Host": parts.netloc}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), headers, extensions


# --- signing -------------------------------------------------------------------

def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str | None, body: bytes, *, now: float,
                     tolerance: float = REPLAY_TOLERANCE) -> int:
    """Check a delivery as a receiver must; its timestamp, or SignatureError.

    The MAC covers the timestamp, so an attacker cannot refresh an old delivery's
    time; the tolerance refuses a captured delivery sent again later. The compare
    takes the same time whatever the first wrong character (``hmac.compare_digest``).
    """
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        raise SignatureError(f"{SIGNATURE_HEADER} has no t=<timestamp>: {header!r}") from None
    expected = signature_header(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, fields.get("v1", "")):
        raise SignatureError("signature does not match the body (wrong secret, or altered)")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"timestamp {timestamp} is {now - timestamp:.0f} s away from now: "
                             f"a replay? (tolerance {tolerance:.0f} s)")
    return timestamp


# --- queueing and delivering ------------------------------------------------------

def delivery_id_for(task_id: str) -> str:
    """The delivery's id (and its task id): the same for every notification of one ending."""
    return DELIVERY_ID_PREFIX + hashlib.sha256(task_id.encode()).hexdigest()[:32]


def queue_delivery(queue: RedisTaskQueue, task_id: str, outcome: str) -> str | None:
    """Queue the webhook for ``task_id``'s final ``outcome``; its delivery id (None if no URL).

    Idempotent: the delivery task's id is derived from the task's, so a second call
    (a retry after a lost reply) is refused by the queue and nothing is sent twice.
    """
    task = queue.get_task_info(task_id)
    if task is None or not task.data.get("webhook_url"):
        return None
    delivery_id = delivery_id_for(task_id)
    payload = {"delivery_id": delivery_id, "task_id": task_id, "type": task.type,
               "status": outcome, "attempts": task.attempts, "finished_at": task.finished_at,
               "result": task.result, "error": task.reason or task.error}
    try:
        queue.add_task({"type": DELIVERY_TYPE, "url": task.data["webhook_url"],
                        "delivery_id": delivery_id, "payload": payload},
                       task_id=delivery_id, priority="high")
    except DuplicateTaskError:
        pass  # already queued: once is what we want
    return delivery_id


def delivered_key(keys: QueueKeys) -> str:
    """``{q}:webhook_delivered``: deliveries a receiver accepted, counted by the workers."""
    return f"{keys.prefix}webhook_delivered"


def count_delivered(queue: RedisTaskQueue) -> None:
    """One more delivery accepted (a display count: a kill right before it loses one)."""
    queue.client.incr(delivered_key(queue.keys))


def delivered_count(queue: RedisTaskQueue) -> int:
    return int(queue.client.get(delivered_key(queue.keys)) or 0)


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def handle_webhook(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """POST one signed delivery; 2xx done, 5xx/408/429/timeout retried, other 4xx permanent."""
    url = data.get("url")
    address = checked_addresses(url)[0]
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise PermanentTaskError(f"{SECRET_ENV} is not set in the worker's environment: the "
                                 f"delivery cannot be signed")
    body = encode_body(data.get("payload") or {})
    headers = {"Content-Type": "application/json", ID_HEADER: str(data.get("delivery_id")),
               SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
               "Webhook-Attempt": str(context.attempt)}
    timeout = float(os.environ.get(TIMEOUT_ENV, "5"))
    target, host_header, extensions = pinned_request(url, address)
    try:
        # No redirects: a 302 to an internal address would undo the host check.
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(target, content=body, headers={**headers, **host_header},
                                   extensions=extensions)
    except httpx.TimeoutException as error:
        raise TransientTaskError(f"webhook to {url} timed out after {timeout:g} s ({error!r})") from None
    except httpx.TransportError as error:
        raise TransientTaskError(f"webhook to {url} failed to connect ({error!r})") from None
    status = response.status_code
    if 200 <= status < 300:
        return {"status": status, "delivery_id": data.get("delivery_id")}
    if status >= 500 or status in (408, 429):
        raise TransientTaskError(f"webhook receiver {url} answered {status}: will retry")
    raise PermanentTaskError(f"webhook receiver {url} answered {status}: not retried")
