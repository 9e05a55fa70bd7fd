"""A webhook receiver for the demos and tests: what the other side of a webhook does.

``python -m session9_operations.receiver --port 17801 --ledger output/received.jsonl``

It listens on loopback only, and for every POST:

- verifies the signature (``verify_signature``) and refuses a replay: 401;
- drops a duplicate (a ``Webhook-Id`` it has seen): 200, counted as a duplicate;
- records the delivery (one JSON line in the ledger file) and answers 200.

The ledger file is also its memory of the ids seen, so a receiver that is killed
and restarted still recognises the deliveries it had already accepted. A real
receiver keeps the ids in its database, in the same transaction as the effect.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .webhooks import ID_HEADER, SECRET_ENV, SIGNATURE_HEADER, SignatureError, verify_signature


class Receiver:
    """The state of one receiver: the secret, the ledger, the ids seen, the counts."""

    def __init__(self, secret: str, ledger: Path) -> None:
        self.secret = secret
        self.ledger = ledger
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.counts = {"accepted": 0, "duplicates": 0, "refused": 0}
        if ledger.exists():
            for line in ledger.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                if entry["kind"] == "accepted":
                    self.seen.add(entry["delivery_id"])

    def receive(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        try:
            verify_signature(self.secret, headers.get(SIGNATURE_HEADER.lower()), body,
                             now=time.time())
        except SignatureError as error:
            with self.lock:
                self.counts["refused"] += 1
            return 401, str(error)
        delivery_id = headers.get(ID_HEADER.lower(), "")
        payload = json.loads(body)
        with self.lock:
            kind = "duplicate" if delivery_id in self.seen else "accepted"
            self.seen.add(delivery_id)
            self.counts["duplicates" if kind == "duplicate" else "accepted"] += 1
            with open(self.ledger, "a", encoding="utf-8") as out:
                out.write(json.dumps({"kind": kind, "delivery_id": delivery_id,
                                      "task_id": payload.get("task_id"),
                                      "status": payload.get("status")}) + "\n")
                out.flush()
                os.fsync(out.fileno())  # accepted means on disk: then we answer 200
        return 200, kind


def make_server(receiver: Receiver, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, text = receiver.receive({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the ledger is the record

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def start_receiver_process(port: int, ledger: Path) -> subprocess.Popen[str]:
    """Run a receiver in a process of its own (so a demo can kill -9 it); returns once it listens.

    It inherits ``WEBHOOK_SECRET`` from this process's environment.
    """
    process = subprocess.Popen([sys.executable, "-m", "session9_operations.receiver",
                                "--port", str(port), "--ledger", str(ledger)],
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if "listening" not in line:
        process.kill()
        raise RuntimeError(f"the receiver did not start on port {port} (exit code "
                           f"{process.wait()}): is the port in use?")
    return process


def read_received(ledger: Path) -> list[dict[str, str]]:
    """The receiver's ledger: one entry per delivery it answered 200 (accepted or duplicate)."""
    if not ledger.exists():
        return []
    return [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=17801)
    parser.add_argument("--ledger", type=Path, default=Path("output/received.jsonl"))
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise SystemExit(f"set {SECRET_ENV} to the secret the workers sign with")
    args.ledger.parent.mkdir(parents=True, exist_ok=True)
    server = make_server(Receiver(secret, args.ledger), args.port)
    print(f"receiver listening on http://127.0.0.1:{args.port}/ (ledger {args.ledger})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
