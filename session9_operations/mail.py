"""Sending e-mail from a task: one message per task, through an SMTP server.

The demo's server is ``aiosmtpd`` on loopback (demos/bulk_email.py); a real one is
your provider's relay. ``SMTP_HOST``/``SMTP_PORT`` in the worker's environment say
where. A refused connection or a 4xx reply is transient (retried with backoff); a
5xx reply for the recipient is permanent (the DLQ: the address will not get better).
"""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from typing import Any

from session5_recovery.workers import (
    InvalidTaskError,
    PermanentTaskError,
    TaskContext,
    TransientTaskError,
)

HOST_ENV, PORT_ENV = "SMTP_HOST", "SMTP_PORT"


def build_message(data: dict[str, Any], task_id: str = "") -> EmailMessage:
    for name in ("to", "subject", "body"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise InvalidTaskError(f"an email task needs '{name}' as non-empty text, "
                                   f"got {data.get(name)!r}")
    message = EmailMessage()
    message["From"] = data.get("from", "workshop@localhost")
    message["To"] = data["to"]
    message["Subject"] = data["subject"]
    if task_id:
        # The task's id travels with the message: a mailbox can drop a second copy.
        message["X-Task-Id"] = task_id
    message.set_content(data["body"])
    return message


def handle_email(data: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    message = build_message(data, context.task_id)
    host, port = os.environ.get(HOST_ENV, "127.0.0.1"), int(os.environ.get(PORT_ENV, "8025"))
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPResponseException as error:
        if 500 <= error.smtp_code < 600:
            raise PermanentTaskError(f"SMTP server refused the message: {error.smtp_code} "
                                     f"{error.smtp_error!r}") from None
        raise TransientTaskError(f"SMTP server said {error.smtp_code}: try later") from None
    except (OSError, smtplib.SMTPException) as error:
        raise TransientTaskError(f"SMTP server {host}:{port} unreachable ({error})") from None
    return {"sent_to": data["to"]}
