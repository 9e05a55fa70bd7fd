"""Exercise 1: fix the race in a bank account shared by several threads.

``deposit`` reads the balance, does something else for a moment (``pause()``: in real
code a log call, a database round trip, or just the GIL switching threads), then
writes the new balance. Two threads that deposit at the same time can both read 100,
both write 110, and one deposit vanishes: a *lost update*.

- Part 1: make ``deposit`` thread-safe with a ``threading.Lock``, so the read and the
  write happen as one step that no other deposit can split.
- Part 2: make ``withdraw`` thread-safe too. It checks the balance, then subtracts
  (check-then-act): two withdrawals of 80 from 100 must not both succeed.

The ``pause`` hook exists so the tests can force the bad interleaving every time
instead of hoping the scheduler produces it.
"""

from __future__ import annotations

import threading  # noqa: F401  (you will need threading.Lock)
from collections.abc import Callable


def no_pause() -> None:
    """The default pause: do nothing (the tests pass a pause that forces a thread switch)."""


class BankAccount:
    """A balance that several threads may change at the same time."""

    def __init__(self, balance: int = 0, *, pause: Callable[[], None] = no_pause) -> None:
        self._balance = balance
        self._pause = pause
        # TODO (part 1): what deposit and withdraw must share to keep out of each other's
        # way: made once per account, here, never once per call.

    @property
    def balance(self) -> int:
        return self._balance

    # --- Part 1 ----------------------------------------------------------------------

    def deposit(self, amount: int) -> int:
        """Add ``amount`` and return the new balance."""
        # TODO (part 1): read the balance, call self._pause() (the tests use it to switch
        # threads at the worst moment), then write the balance plus amount and return it.
        # Rule: no other change to this account may happen between the read and the
        # write, however the threads interleave.
        raise NotImplementedError("Exercise 1, part 1: add to the balance without ever losing "
                                  "a deposit (hint: make hint SESSION=3 EXERCISE=1)")

    # --- Part 2 ----------------------------------------------------------------------

    def withdraw(self, amount: int) -> bool:
        """Take ``amount`` out if the balance covers it; True if it did, False if not."""
        # TODO (part 2): check that the balance covers amount (False if not), call
        # self._pause(), then subtract and return True. Rule: the balance the check saw is
        # still the balance when the subtraction happens, whoever else deposits or
        # withdraws meanwhile: two withdrawals of 80 from 100 must not both succeed.
        raise NotImplementedError("Exercise 1, part 2: never let two withdrawals spend the same "
                                  "money (hint: make hint SESSION=3 EXERCISE=1)")
