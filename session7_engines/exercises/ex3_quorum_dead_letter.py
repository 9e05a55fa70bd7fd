"""Exercise 3: a poison task reaches the dead-letter exchange after exactly N deliveries.

Session 5 counted attempts in its own Lua script and moved a task that used them up
to a dead-letter queue. A RabbitMQ quorum queue does both itself, if it is declared
with the right arguments: it counts how many times each message came back unacked
(its consumer rejected it, or the consumer's connection closed, as when a worker is
killed with ``kill -9``) and, past a limit, sends the message to the queue's
dead-letter exchange, which routes it to a queue of your choice.

You write the declaration. The tests run it on a real RabbitMQ (``S7_AMQP_URL``,
default ``amqp://guest:guest@127.0.0.1:5672/%2F``): each publishes a message that
fails every time and counts the deliveries until it lands in the dead-letter queue.

- Part 1: ``queue_arguments(max_deliveries, dead_letter_exchange, routing_key)``: the
  arguments of a quorum queue whose messages are delivered at most ``max_deliveries``
  times, then dead-lettered through ``dead_letter_exchange`` with ``routing_key``.
- Part 2: ``declare(channel, queue, max_deliveries)``: declare, on a pika channel, the
  queue ``queue`` (with part 1's arguments), a direct exchange ``{queue}.dlx`` and a
  durable queue ``{queue}.dead`` that receives what the exchange is given; return
  the dead queue's name.
- Part 3: ``delivery_number(headers)``: which delivery of its message a consumer is
  holding (1 for the first), from the message's headers, so a worker can log
  "attempt 2 of 3".

Read RabbitMQ's quorum queue documentation ("Poison Message Handling") and the
headers a delivered message carries: the tests print them when they fail.
"""

from __future__ import annotations

from typing import Any

# --- Part 1 -------------------------------------------------------------------


def queue_arguments(max_deliveries: int, dead_letter_exchange: str,
                    routing_key: str) -> dict[str, Any]:
    """Arguments for ``queue_declare``: a quorum queue, a delivery limit, a dead-letter route."""
    # TODO (part 1): the queue must be a quorum queue (a classic queue counts nothing).
    # A message that fails every time must be delivered exactly max_deliveries times,
    # then routed through dead_letter_exchange with routing_key. Mind what the broker's
    # limit counts: find out whether it is deliveries or something else.
    # max_deliveries below 1 makes no sense: refuse it with ValueError.
    raise NotImplementedError("Exercise 3, part 1: a quorum queue that dead-letters "
                              "after max_deliveries deliveries "
                              "(hint: make hint SESSION=7 EXERCISE=3)")


# --- Part 2 -------------------------------------------------------------------


def declare(channel: Any, queue: str, max_deliveries: int) -> str:
    """Declare the queue, its dead-letter exchange and dead-letter queue; the latter's name."""
    # TODO (part 2): everything durable. A dead-lettered message must end up in
    # f"{queue}.dead", reached only through the exchange f"{queue}.dlx": an exchange
    # drops what no binding routes. Declaring twice (every worker does at start)
    # must not fail.
    raise NotImplementedError("Exercise 3, part 2: declare the queue and its dead-letter route "
                              "(hint: make hint SESSION=7 EXERCISE=3)")


# --- Part 3 -------------------------------------------------------------------


def delivery_number(headers: dict[str, Any] | None) -> int:
    """1 for a message's first delivery, 2 for its second, ..."""
    # TODO (part 3): the broker writes its count into a header of each delivery.
    # What does it say on the first delivery, and what if a broker leaves the
    # header out then (newer versions do), or the message has no headers at all?
    raise NotImplementedError("Exercise 3, part 3: which delivery this is, from the headers "
                              "(hint: make hint SESSION=7 EXERCISE=3)")
