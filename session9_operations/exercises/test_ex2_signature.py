"""Tests for exercise 2: the webhook signature check.

Run: pytest session9_operations/exercises/test_ex2_signature.py
"""

import hashlib
import hmac

import pytest

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

BODY = b'{"task_id":"t1","status":"completed"}'


class TestPart1_sign:
    def test_the_header_carries_the_timestamp_and_the_digest(self):
        expected = hmac.new(b"s3cret", b"1000." + BODY, hashlib.sha256).hexdigest()
        assert ex.sign("s3cret", 1000, BODY) == f"t=1000,v1={expected}", (
            "the digest is HMAC-SHA256(secret, b'<timestamp>.' + body), in hex")

    def test_another_secret_gives_another_signature(self):
        assert ex.sign("a", 1000, BODY) != ex.sign("b", 1000, BODY)


class TestPart2_verify:
    def test_a_fresh_delivery_verifies(self):
        assert ex.verify("s3cret", ex.sign("s3cret", 1000, BODY), BODY, now=1010) == 1000

    @pytest.mark.parametrize(("secret", "body"), [("wrong", BODY), ("s3cret", BODY + b" ")])
    def test_a_wrong_secret_or_an_altered_body_is_refused(self, secret, body):
        with pytest.raises(ValueError):
            ex.verify(secret, ex.sign("s3cret", 1000, BODY), body, now=1000)

    def test_a_changed_timestamp_breaks_the_signature(self):
        captured = ex.sign("s3cret", 1000, BODY)
        refreshed = captured.replace("t=1000", "t=5000")
        with pytest.raises(ValueError):
            ex.verify("s3cret", refreshed, BODY, now=5000)

    def test_a_replay_older_than_the_tolerance_is_refused(self):
        header = ex.sign("s3cret", 1000, BODY)
        assert ex.verify("s3cret", header, BODY, now=1300) == 1000
        with pytest.raises(ValueError):
            ex.verify("s3cret", header, BODY, now=1301)

    @pytest.mark.parametrize("header", [None, "", "v1=abc", "t=soon,v1=abc"])
    def test_a_missing_or_malformed_header_is_refused(self, header):
        with pytest.raises(ValueError):
            ex.verify("s3cret", header, BODY, now=1000)
