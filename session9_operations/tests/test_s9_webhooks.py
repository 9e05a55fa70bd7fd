"""Webhooks: the URL policy (SSRF), the signature, and delivery through a receiver
that is killed and restarted in the middle of the run."""

from __future__ import annotations

import pytest

from session5_recovery.workers import RecoverySettings
from session9_operations.webhooks import (
    ALLOWED_HOSTS_ENV,
    SECRET_ENV,
    SignatureError,
    WebhookUrlError,
    check_webhook_url,
    delivery_id_for,
    pinned_request,
    signature_header,
    verify_signature,
)
from workshop.waiting import wait_until

ALLOWED = frozenset({"hooks.example.com", "127.0.0.1"})


def public(host):
    return ["93.184.216.34"]


class TestUrlPolicy:
    @pytest.mark.parametrize(("url", "why"), [
        ("ftp://hooks.example.com/x", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "http or https"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://evil.example.net/x", "not on WEBHOOK_ALLOWED_HOSTS"),
        ("https:///nohost", "no host"),
    ])
    def test_refused_with_one_clear_line(self, url, why):
        with pytest.raises(WebhookUrlError, match=why) as caught:
            check_webhook_url(url, ALLOWED, resolve=public)
        assert "\n" not in str(caught.value)

    @pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.7", "169.254.169.254",
                                         "::1", "fe80::1", "0.0.0.0"])
    def test_a_listed_name_that_resolves_inside_is_refused(self, address):
        resolve = lambda host: ["93.184.216.34", address]  # noqa: E731 (every address is checked)
        with pytest.raises(WebhookUrlError, match="internal address"):
            check_webhook_url("https://hooks.example.com/x", {"hooks.example.com"},
                              resolve=resolve)

    def test_an_internal_address_listed_literally_is_allowed(self):
        url = "http://127.0.0.1:17801/hook"
        assert check_webhook_url(url, ALLOWED, resolve=lambda h: ["127.0.0.1"]) == url

    def test_a_listed_public_host_is_allowed(self):
        assert check_webhook_url("https://hooks.example.com/x", ALLOWED, resolve=public)

    def test_the_allow_list_comes_from_the_environment(self, monkeypatch):
        monkeypatch.setenv(ALLOWED_HOSTS_ENV, " Hooks.Example.com , ")
        assert check_webhook_url("https://hooks.example.com/x", resolve=public)
        monkeypatch.setenv(ALLOWED_HOSTS_ENV, "")
        with pytest.raises(WebhookUrlError, match="empty"):
            check_webhook_url("https://hooks.example.com/x", resolve=public)


class TestSignature:
    BODY = b'{"task_id":"t1"}'

    def test_a_fresh_signed_body_verifies(self):
        header = signature_header("s3cret", 1_000, self.BODY)
        assert verify_signature("s3cret", header, self.BODY, now=1_010) == 1_000

    @pytest.mark.parametrize(("secret", "body"), [("other", BODY), ("s3cret", b'{"task_id":"t2"}')])
    def test_a_wrong_secret_or_an_altered_body_is_refused(self, secret, body):
        header = signature_header("s3cret", 1_000, self.BODY)
        with pytest.raises(SignatureError, match="does not match"):
            verify_signature(secret, header, body, now=1_000)

    def test_a_replay_older_than_five_minutes_is_refused(self):
        header = signature_header("s3cret", 1_000, self.BODY)
        assert verify_signature("s3cret", header, self.BODY, now=1_300)
        with pytest.raises(SignatureError, match="replay"):
            verify_signature("s3cret", header, self.BODY, now=1_301)

    def test_a_refreshed_timestamp_breaks_the_signature(self):
        old = signature_header("s3cret", 1_000, self.BODY)
        forged = old.replace("t=1000", "t=2000")
        with pytest.raises(SignatureError, match="does not match"):
            verify_signature("s3cret", forged, self.BODY, now=2_000)

    @pytest.mark.parametrize("header", [None, "", "v1=abc", "t=soon,v1=abc"])
    def test_a_missing_or_malformed_header_is_refused(self, header):
        with pytest.raises(SignatureError):
            verify_signature("s3cret", header, self.BODY, now=1_000)

    def test_the_delivery_id_is_stable_per_task(self):
        assert delivery_id_for("t1") == delivery_id_for("t1") != delivery_id_for("t2")


# The receiver killed and restarted mid-run: demos/webhooks_restart.py, run by test_s9_demos.py.


@pytest.mark.redis
def test_a_producer_hears_about_a_bad_webhook_url_and_nothing_is_queued(redis_client, queue_name,
                                                                          monkeypatch):
    from session9_operations.operations_queue import OperationsQueue

    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "127.0.0.1")
    queue = OperationsQueue(client=redis_client, queue_name=queue_name)
    for url, why in [("ftp://127.0.0.1/x", "http or https"), ("http://a:b@127.0.0.1/x", "credentials"),
                     ("http://10.0.0.1/x", "not on WEBHOOK_ALLOWED_HOSTS")]:
        with pytest.raises(WebhookUrlError, match=why):
            queue.add_tasks([{"type": "noop"}, {"type": "noop", "webhook_url": url}])
    assert queue.get_stats()["total"] == 0
    assert queue.add_task({"type": "noop", "webhook_url": "http://127.0.0.1:17801/h"})


@pytest.mark.redis
def test_a_task_the_reaper_dead_letters_gets_its_webhook(redis_client, queue_name, monkeypatch):
    from session9_operations.operations_queue import OperationsQueue

    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "127.0.0.1")
    settings = RecoverySettings(heartbeat_interval=0.05, heartbeat_ttl=0.2, max_attempts=1)
    queue = OperationsQueue(client=redis_client, queue_name=queue_name, settings=settings)
    task_id = queue.add_task({"type": "crash", "webhook_url": "http://127.0.0.1:1/hook"})
    queue.register_worker("doomed")
    assert queue.get_task("doomed", timeout=0).id == task_id
    # The worker never beats again: its heartbeat key expires (Redis's own TTL).
    wait_until(lambda: not redis_client.exists(queue.keys.heartbeat("doomed")), timeout=10,
               what="the heartbeat to expire")
    assert [r.outcome for r in queue.reap()] == ["dead_lettered"]
    delivery = queue.get_task_info(delivery_id_for(task_id))
    assert delivery is not None and delivery.type == "webhook"
    assert delivery.data["payload"]["status"] == "dead_lettered"
    assert queue.reap() == [] and queue.get_stats()["pending"] == 1, "queued once"


class TestPinnedRequest:
    def test_http_goes_to_the_checked_address_with_the_host_header(self):
        url, headers, extensions = pinned_request("http://hooks.example.com:8080/h?x=1", "93.184.216.34")
        assert url == "http://93.184.216.34:8080/h?x=1"
        assert headers == {"Host": "hooks.example.com:8080"} and extensions == {}

    def test_https_keeps_the_name_for_tls(self):
        url, headers, extensions = pinned_request("https://hooks.example.com/h", "2001:db8::1")
        assert url == "https://[2001:db8::1]/h"
        assert extensions == {"sni_hostname": "hooks.example.com"}


def test_the_delivery_connects_to_the_address_it_checked(monkeypatch, tmp_path):
    """The name resolves only through our resolver: the request must use its answer."""
    import threading

    from session5_recovery.workers import TaskContext
    from session9_operations import webhooks
    from session9_operations.receiver import Receiver, make_server

    monkeypatch.setenv(SECRET_ENV, "s3cret")
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "hooks.invalid,127.0.0.1")
    monkeypatch.setattr(webhooks, "resolve_addresses", lambda host: ["127.0.0.1"])
    receiver = Receiver("s3cret", tmp_path / "received.jsonl")
    server = make_server(receiver, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        result = webhooks.handle_webhook(
            {"url": f"http://hooks.invalid:{port}/hook", "delivery_id": "whk-1",
             "payload": {"task_id": "t1", "status": "completed"}},
            TaskContext(task_id="whk-1", attempt=1, worker_id="w1", pipeline=None,
                        allowed_dirs=(), pipelines={}))
    finally:
        server.shutdown()
        server.server_close()
    assert result["status"] == 200 and receiver.counts["accepted"] == 1
