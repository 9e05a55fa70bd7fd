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
        # TODO (part 1): this is the unsafe version. It loses updates when two threads
        # interleave between the read and the write. Rule: no other change to this account
        # may happen between the read and the write.
        #
        #     current = self._balance
        #     self._pause()
        #     self._balance = current + amount
        #     return self._balance
        raise NotImplementedError("Exercise 1, part 1: make deposit() thread-safe with a "
                                  "threading.Lock (hint: make hint SESSION=3 EXERCISE=1)")

    # --- Part 2 ----------------------------------------------------------------------

    def withdraw(self, amount: int) -> bool:
        """Take ``amount`` out if the balance covers it; True if it did, False if not."""
        # TODO (part 2): this is the unsafe version. Two threads can both pass the check
        # before either subtracts. Rule: the balance a check saw is still the balance when
        # the subtraction happens, whoever else deposits or withdraws meanwhile.
        #
        #     current = self._balance
        #     if current < amount:
        #         return False
        #     self._pause()
        #     self._balance = current - amount
        #     return True
        raise NotImplementedError("Exercise 1, part 2: make withdraw() thread-safe: check and "
                                  "subtract under the same lock (hint: make hint SESSION=3 EXERCISE=1)")
