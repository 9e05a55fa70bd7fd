"""A web page on another site cannot use the API through the learner's browser.

Each request below is what a browser sends for an attacker's page: a plain
form POST, a ``no-cors`` fetch, a DNS-rebound host name. Before the
BrowserSafety middleware, each of them changed the queue (200/201).
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from session6_api.browser_safety import CONTENT_SECURITY_POLICY, host_name
from session6_api.cli import with_bind_address
from session6_api.config import LOCAL_HOSTS

pytestmark = [pytest.mark.redis, pytest.mark.databases("sqlite")]  # HTTP contracts
EVIL = "http://attacker.example"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


def paused(api) -> bool:
    return bool(api.backends.queue.is_paused())


def test_a_cross_origin_form_post_cannot_pause_the_queue(api):
    response = api.client.post("/queue/pause", data={"x": "1"},
                               headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and "another origin" in response.json()["detail"]
    # An older browser that sends Origin only:
    assert api.client.post("/queue/pause", headers={"Origin": EVIL}).status_code == 403
    assert not paused(api)


def test_a_no_cors_upload_from_another_site_stores_nothing(api):
    response = api.client.post("/images", files={"file": ("a.png", png(), "image/png")},
                               headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert list(api.config.images_dir.iterdir()) == []


def test_a_cross_origin_page_cannot_replay_delete_or_post_tasks(api):
    for method, path, kwargs in [("POST", "/dlq/abc/replay", {}), ("DELETE", "/dlq", {}),
                                 ("POST", "/tasks", {"json": {"image": "photo_grace_hopper.jpg"}}),
                                 ("POST", "/queue/resume", {})]:
        response = api.client.request(method, path, headers={"Origin": "null"}, **kwargs)
        assert response.status_code == 403, (method, path, response.text)
    assert api.backends.store.counts()["pending"] == 0


def test_the_dashboard_itself_and_curl_still_change_state(api):
    same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert api.client.post("/queue/pause", headers=same_origin).json() == {"paused": True}
    assert api.client.post("/queue/resume").json() == {"paused": False}  # curl: no Origin
    upload = api.client.post("/images", files={"file": ("a.png", png(), "image/png")},
                             headers=same_origin)
    assert upload.status_code == 201


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.2"])
def test_a_foreign_host_name_is_400_on_every_route(api, host):
    for method, path in [("GET", "/tasks"), ("GET", "/workers"), ("DELETE", "/dlq"),
                         ("GET", "/"), ("GET", "/docs")]:
        response = api.client.request(method, path, headers={"Host": host})
        assert response.status_code == 400, (method, path)
        assert "host name" in response.json()["detail"]


def test_local_names_with_ports_are_answered(api):
    for host in ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "testserver"]:
        assert api.client.get("/health", headers={"Host": host}).status_code == 200, host


def test_pages_send_a_content_security_policy_and_nosniff(api):
    for path in ["/", "/ui/tasks/abc", "/static/dashboard.js", "/tasks", "/health"]:
        response = api.client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


def test_serve_answers_to_its_host_argument_too():
    assert host_name("[::1]:8000") == "::1" and host_name("Example.COM:80") == "example.com"
    assert with_bind_address(LOCAL_HOSTS, "192.168.1.5") == (*LOCAL_HOSTS, "192.168.1.5")
    assert with_bind_address(LOCAL_HOSTS, "0.0.0.0") == LOCAL_HOSTS
