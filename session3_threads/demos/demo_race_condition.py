"""Demo: a shared counter that loses updates, then the same counter with a Lock.

Run from the repository root or from inside session3_threads:

    python session3_threads/demos/demo_race_condition.py
    python demos/demo_race_condition.py

Four threads each add 1 to a shared counter 2,000 times. Without a lock, the
read-then-write of one thread overwrites the write of another, and updates vanish.
With a lock around the read *and* the write, the total is exact.
"""

from __future__ import annotations

import argparse

from session3_threads.counters import LockedCounter, UnsafeCounter, hammer
from workshop.console import make_console


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4, help="threads (default 4)")
    parser.add_argument("--increments", type=int, default=2_000,
                        help="increments per thread (default 2000)")
    args = parser.parse_args(argv)
    console = make_console()
    expected = args.threads * args.increments
    console.print(f"[bold]{args.threads} threads x {args.increments:,} increments "
                  f"= {expected:,} expected[/bold]")
    console.print("Each increment is: read the value, pause (time.sleep(0): another thread "
                  "may run), write value + 1.\n")

    # UnsafeCounter pauses between its read and its write with time.sleep(0), which
    # releases the GIL: the other threads then read the same old value, and all but
    # one of their writes are lost. Without the pause the loss still happens, but
    # rarely and unpredictably, which is what makes real race conditions so nasty.
    unsafe = UnsafeCounter()
    lost = hammer(unsafe, args.threads, args.increments)
    console.print(f"[red]without a lock[/red]: counter = {unsafe.value:,}  "
                  f"lost updates = {lost:,} ({lost / expected:.0%})")

    locked = LockedCounter()
    lost_locked = hammer(locked, args.threads, args.increments)
    console.print(f"[green]with a Lock   [/green]: counter = {locked.value:,}  "
                  f"lost updates = {lost_locked:,}")

    console.print("\nThe lock makes read-pause-write one indivisible step: a second thread "
                  "waits at the lock instead of reading a value that is about to change.")


if __name__ == "__main__":
    main()
