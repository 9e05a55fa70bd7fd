"""What stops a web page in the learner's own browser from using this API against them.

The server listens on 127.0.0.1 and, by default, asks for no token: anything on
this machine may use it. A web page is not "on this machine", but the browser
that shows it is, so without these checks any site the learner visits could:

- **CSRF**: send a plain form POST (or a ``no-cors`` fetch) to
  ``http://127.0.0.1:8000/queue/pause``. The browser sends it without asking
  anybody; the page cannot read the answer, but the queue is paused. Browsers
  label every request with where it comes from (``Origin``, and
  ``Sec-Fetch-Site`` in current ones), so a request that changes state is
  refused (``403``) unless it comes from this server's own pages. Tools such as
  curl send neither header and are not affected.
- **DNS rebinding**: make ``attacker.example`` resolve to 127.0.0.1 after the
  page has loaded; the page is then "same-origin" with the API under the
  attacker's name. The browser still sends ``Host: attacker.example``, so only
  the names the server was started for are answered (``400`` otherwise).

And every answer says how a browser must treat it: ``X-Content-Type-Options:
nosniff`` (an upload served back is never run as a script because it "looks
like" one), and a ``Content-Security-Policy`` that allows scripts, styles and
connections from this server only (the dashboard has no inline script, so
nothing needs ``unsafe-inline``), and no framing (clickjacking).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .asgi_errors import send_json_error

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sec-Fetch-Site values of a request the page did not make itself:
# "cross-site" (another site) and "same-site" (another port or subdomain: another origin).
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'")
# FastAPI's interactive docs load Swagger UI / ReDoc from a CDN with an inline script.
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin")]


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without the port (``[::1]:8000`` -> ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class BrowserSafety:
    """ASGI middleware: the Host allow-list, the cross-origin check, the safety headers."""

    def __init__(self, app: Any, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed_hosts = {h.lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if host_name(host) not in self.allowed_hosts:
            detail = (f"this server does not answer to the host name {host_name(host)[:100]!r}; "
                      f"use one of {', '.join(sorted(self.allowed_hosts))} (start it with "
                      f"--host NAME or set SESSION6_ALLOWED_HOSTS to add one)")
            await send_json_error(send, 400, detail, SECURITY_HEADERS)
            return
        if scope["method"] in UNSAFE_METHODS:
            foreign = self.foreign_origin(headers, host)
            if foreign is not None:
                detail = (f"refused a {scope['method']} from another origin ({foreign}): only "
                          f"this server's own pages, or clients that are not browsers (curl, "
                          f"scripts), may change its state")
                await send_json_error(send, 403, detail, SECURITY_HEADERS)
                return
        docs = scope["path"].startswith(DOCS_PATHS)

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if not docs:
                    extra += [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                              (b"x-frame-options", b"DENY")]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)

    @staticmethod
    def foreign_origin(headers: dict[str, str], host: str) -> str | None:
        """Why the request comes from another origin (None: same origin, or not a browser)."""
        fetch_site = headers.get("sec-fetch-site", "").lower()
        if fetch_site in FOREIGN_FETCH_SITES:
            return f"Sec-Fetch-Site: {fetch_site}"
        origin = headers.get("origin")
        if origin is None:
            return None  # no browser sends a cross-origin POST without Origin nowadays
        if origin == "null" or urlsplit(origin).netloc.lower() != host.strip().lower():
            return f"Origin: {origin[:100]}"
        return None

