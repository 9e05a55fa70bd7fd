"""Tests for exercise 1: a thread-safe bank account.

Run: pytest session3_threads/exercises/test_ex1_fix_race.py

The race is forced, not hoped for: the account's ``pause`` hook is a barrier that
holds the first thread between its read and its write until the second thread gets
there too. An unsafe account then loses an update every time. A locked account never
lets the second thread reach the pause, so the barrier gives up after a short wait
(``SWITCH_TIMEOUT``) and the first thread carries on.
"""

import threading
import time

from workshop.exercises import load_exercise

ex = load_exercise(__file__)

SWITCH_TIMEOUT = 0.3  # how long a paused thread waits for the other one (seconds)
DEADLOCK_TIMEOUT = 5.0


class ForcedSwitch:
    """A pause that makes two threads meet between their read and their write."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=SWITCH_TIMEOUT)

    def __call__(self) -> None:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            pass  # the other thread never arrived: it is waiting at your lock. Good.


def run_concurrently(*calls):
    """Run each zero-argument call in its own thread, all at once; return their results."""
    results = [None] * len(calls)
    errors = []
    # All threads start their call at the same moment, so the pause's short timeout only
    # has to cover a few lines of code, not the time it takes to start a thread.
    start_together = threading.Barrier(len(calls), timeout=DEADLOCK_TIMEOUT)

    def target(index, call):
        try:
            start_together.wait()
            results[index] = call()
        except BaseException as error:  # reported in the main thread below
            errors.append(error)

    threads = [threading.Thread(target=target, args=(i, call), daemon=True)
               for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLOCK_TIMEOUT)
    stuck = [thread for thread in threads if thread.is_alive()]
    assert not stuck, (
        f"{len(stuck)} thread(s) were still running after {DEADLOCK_TIMEOUT} s: a deadlock? "
        f"threading.Lock is not re-entrant, so a method that holds the lock must not call "
        f"another method that takes it again")
    if errors:
        raise errors[0]
    return results


class TestPart1_Deposit:
    def test_deposit_adds_and_returns_the_new_balance(self):
        account = ex.BankAccount(5)
        got = account.deposit(7)
        assert got == 12 and account.balance == 12, (
            f"BankAccount(5).deposit(7) returned {got!r} and left balance {account.balance!r}; "
            f"expected 12 for both")

    def test_two_interleaved_deposits_both_count(self):
        account = ex.BankAccount(100, pause=ForcedSwitch())
        run_concurrently(lambda: account.deposit(10), lambda: account.deposit(10))
        assert account.balance == 120, (
            f"two threads called deposit(10) on a balance of 100 at the same moment (each "
            f"paused between reading and writing the balance); the balance is "
            f"{account.balance}, expected 120: an update was lost. Hold one lock, created "
            f"once in __init__, around the read AND the write")

    def test_many_threads_many_deposits(self):
        account = ex.BankAccount(0, pause=lambda: time.sleep(0))  # sleep(0) invites a switch
        calls = [lambda: [account.deposit(1) for _ in range(100)] for _ in range(8)]
        run_concurrently(*calls)
        assert account.balance == 800, (
            f"8 threads each called deposit(1) 100 times; the balance is {account.balance}, "
            f"expected 800: {800 - account.balance} deposits were lost")


class TestPart2_Withdraw:
    def test_withdraw_takes_money_when_there_is_enough(self):
        account = ex.BankAccount(100)
        got = account.withdraw(30)
        assert got is True and account.balance == 70, (
            f"BankAccount(100).withdraw(30) returned {got!r} and left balance "
            f"{account.balance!r}; expected True and 70")

    def test_withdraw_refuses_an_overdraft(self):
        account = ex.BankAccount(50)
        got = account.withdraw(80)
        assert got is False and account.balance == 50, (
            f"BankAccount(50).withdraw(80) returned {got!r} and left balance "
            f"{account.balance!r}; expected False and an unchanged balance of 50")

    def test_two_interleaved_withdrawals_cannot_both_succeed(self):
        account = ex.BankAccount(100, pause=ForcedSwitch())
        results = run_concurrently(lambda: account.withdraw(80), lambda: account.withdraw(80))
        assert sorted(results) == [False, True] and account.balance == 20, (
            f"two threads called withdraw(80) on a balance of 100 at the same moment; they "
            f"returned {results} and the balance is {account.balance}. Expected one True, "
            f"one False and a balance of 20: both checked the balance before either "
            f"subtracted. Check and subtract under the same lock")

    def test_deposit_and_withdraw_share_one_lock(self):
        account = ex.BankAccount(100, pause=ForcedSwitch())
        results = run_concurrently(lambda: account.deposit(50), lambda: account.withdraw(80))
        assert account.balance == 70, (
            f"deposit(50) and withdraw(80) ran at the same moment on a balance of 100; they "
            f"returned {results} and the balance is {account.balance}, expected 70. Two "
            f"different locks do not protect one balance: both methods must use the same lock")
