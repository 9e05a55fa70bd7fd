"""Tests for exercise 3: a quorum queue that dead-letters a poison task after N deliveries.

Run: pytest session7_engines/exercises/test_ex3_quorum_dead_letter.py

They need a real RabbitMQ (``S7_AMQP_URL``, default 127.0.0.1:5672; skipped with how
to start one if none answers). Each test uses queues and an exchange of its own,
deleted at the end. A "worker" here is a pika connection that takes the message and
fails: it rejects it, or its connection closes (what ``kill -9`` does to a worker).
"""

import time
import uuid

import pika
import pytest

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

GIVE_UP_AFTER = 12  # deliveries: more means the queue does not stop a poison message


@pytest.fixture
def connect(rabbitmq_url):
    """Open pika connections to RabbitMQ; all closed at the end."""
    opened = []

    def open_channel():
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
        opened.append(connection)
        return connection, connection.channel()

    yield open_channel
    for connection in opened:
        if connection.is_open:
            connection.close()


@pytest.fixture
def queue(connect):
    """A fresh queue name; the queue, ``.dead`` and ``.dlx`` are deleted afterwards."""
    name = f"ex3-{uuid.uuid4().hex[:10]}"
    yield name
    _, channel = connect()
    for victim in (name, f"{name}.dead"):
        channel.queue_delete(victim)
    channel.exchange_delete(f"{name}.dlx")


def dead_letter_route(channel, queue):
    """The test's own exchange and dead queue (so part 1 is tested without part 2)."""
    channel.exchange_declare(f"{queue}.dlx", exchange_type="direct", durable=True)
    channel.queue_declare(f"{queue}.dead", durable=True)
    channel.queue_bind(f"{queue}.dead", f"{queue}.dlx", routing_key="poison")


def fail_until_dead(connect, queue, dead, how="reject"):
    """Deliver the one message in ``queue`` and fail it until it is gone from there.

    Returns (the headers of each delivery, the bodies found in ``dead`` afterwards).
    """
    deliveries = []
    deadline = time.monotonic() + 10
    connection, channel = connect()
    while len(deliveries) < GIVE_UP_AFTER and time.monotonic() < deadline:
        method, properties, _ = channel.basic_get(queue)
        if method is None:
            if channel.queue_declare(queue, passive=True).method.message_count == 0 \
                    and channel.queue_declare(dead, passive=True).method.message_count:
                break
            time.sleep(0.02)  # a requeued message can take a moment to be ready again
            continue
        deliveries.append(dict(properties.headers or {}))
        if how == "reject":
            channel.basic_reject(method.delivery_tag, requeue=True)
        else:  # the worker dies holding it: its connection closes
            connection.close()
            connection, channel = connect()
    bodies = []
    for _ in range(50):
        method, _, body = channel.basic_get(dead, auto_ack=True)
        if method is not None:
            bodies.append(body)
            break
        time.sleep(0.02)
    return deliveries, bodies


class TestPart1_queue_arguments:
    def test_the_queue_is_a_quorum_queue(self):
        arguments = ex.queue_arguments(3, "x.dlx", "poison")
        assert arguments.get("x-queue-type") == "quorum", arguments

    def test_dead_letters_go_through_the_given_exchange_and_key(self):
        arguments = ex.queue_arguments(3, "x.dlx", "poison")
        assert arguments.get("x-dead-letter-exchange") == "x.dlx", arguments
        assert arguments.get("x-dead-letter-routing-key") == "poison", arguments

    def test_fewer_than_one_delivery_is_refused(self):
        with pytest.raises(ValueError):
            ex.queue_arguments(0, "x.dlx", "poison")

    @pytest.mark.parametrize("deliveries", [1, 3])
    def test_a_poison_message_is_delivered_exactly_n_times_then_dead_lettered(
            self, connect, queue, deliveries):
        _, channel = connect()
        dead_letter_route(channel, queue)
        channel.queue_declare(queue, durable=True,
                              arguments=ex.queue_arguments(deliveries, f"{queue}.dlx", "poison"))
        channel.basic_publish("", queue, b"poison")
        seen, dead = fail_until_dead(connect, queue, f"{queue}.dead")
        assert len(seen) == deliveries, (f"delivered {len(seen)} times, expected {deliveries}; "
                                         f"headers of each delivery: {seen}")
        assert dead == [b"poison"], "the message should be in the dead-letter queue"


class TestPart2_declare:
    def test_returns_the_dead_queue_and_declaring_twice_is_fine(self, connect, queue):
        _, channel = connect()
        assert ex.declare(channel, queue, 2) == f"{queue}.dead"
        assert ex.declare(channel, queue, 2) == f"{queue}.dead"

    def test_a_worker_killed_every_time_sends_the_task_to_the_dead_queue(self, connect, queue):
        _, channel = connect()
        dead = ex.declare(channel, queue, 3)
        channel.basic_publish("", queue, b"crash")
        seen, found = fail_until_dead(connect, queue, dead, how="kill")
        assert len(seen) == 3, f"delivered {len(seen)} times, expected 3: {seen}"
        assert found == [b"crash"], f"nothing reached {dead}: is it bound to the exchange?"

    def test_a_permanent_failure_goes_straight_to_the_dead_queue(self, connect, queue):
        _, channel = connect()
        dead = ex.declare(channel, queue, 3)
        channel.basic_publish("", queue, b"bad input")
        method = None
        for _ in range(50):
            method, _, _ = channel.basic_get(queue)
            if method is not None:
                break
            time.sleep(0.02)
        channel.basic_reject(method.delivery_tag, requeue=False)  # "never retry this one"
        _, found = fail_until_dead(connect, queue, dead)
        assert found == [b"bad input"], f"a rejected message should be in {dead}"


class TestPart3_delivery_number:
    @pytest.mark.parametrize(("headers", "number"), [
        (None, 1), ({}, 1), ({"x-delivery-count": 0}, 1), ({"x-delivery-count": 2}, 3),
        ({"other": "x"}, 1)])
    def test_numbers_deliveries_from_one(self, headers, number):
        assert ex.delivery_number(headers) == number

    def test_agrees_with_the_broker(self, connect, queue):
        _, channel = connect()
        dead_letter_route(channel, queue)
        channel.queue_declare(queue, durable=True, arguments={
            "x-queue-type": "quorum", "x-delivery-limit": 2,
            "x-dead-letter-exchange": f"{queue}.dlx", "x-dead-letter-routing-key": "poison"})
        channel.basic_publish("", queue, b"poison")
        seen, _ = fail_until_dead(connect, queue, f"{queue}.dead")
        assert [ex.delivery_number(h) for h in seen] == [1, 2, 3], seen
