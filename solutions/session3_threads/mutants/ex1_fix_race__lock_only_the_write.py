"""Mistake: the lock covers only the write, so two threads still read the same balance.

Rejected by:
    test_ex1_fix_race.py::TestPart1_Deposit::test_two_interleaved_deposits_both_count
    test_ex1_fix_race.py::TestPart2_Withdraw::test_two_interleaved_withdrawals_cannot_both_succeed
    test_ex1_fix_race.py::TestPart2_Withdraw::test_deposit_and_withdraw_share_one_lock

Exercise 1: fix the race in a bank account shared by several threads.

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

import threading
from collections.abc import Callable


def no_pause() -> None:
    """The default pause: do nothing (the tests pass a pause that forces a thread switch)."""


class BankAccount:
    """A balance that several threads may change at the same time."""

    def __init__(self, balance: int = 0, *, pause: Callable[[], None] = no_pause) -> None:
        self._balance = balance
        self._pause = pause
        # One lock per account, shared by every method that reads-then-writes the balance.
        self._lock = threading.Lock()

    @property
    def balance(self) -> int:
        return self._balance

    # --- Part 1 ----------------------------------------------------------------------

    def deposit(self, amount: int) -> int:
        """Add ``amount`` and return the new balance."""
        current = self._balance
        self._pause()
        with self._lock:  # the write is protected... but the read above is not
            self._balance = current + amount
            return self._balance

    # --- Part 2 ----------------------------------------------------------------------

    def withdraw(self, amount: int) -> bool:
        """Take ``amount`` out if the balance covers it; True if it did, False if not."""
        current = self._balance
        if current < amount:
            return False
        self._pause()
        with self._lock:
            self._balance = current - amount
            return True
