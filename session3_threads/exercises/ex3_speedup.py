"""Exercise 3: speedup, efficiency and Amdahl's law, the numbers behind the GIL demo.

When 4 workers finish a job in 3 s that took 10 s alone, how good is that? Three
questions, three parts:

- Part 1: ``speedup`` (how many times faster) and ``efficiency`` (speedup per worker:
  1.0 means every worker pulled its full weight).
- Part 2: Amdahl's law. If a fraction ``s`` of the work is serial (cannot be split),
  ``n`` workers can give at most ``1 / (s + (1 - s) / n)``, and no number of workers
  can beat ``1 / s``.
- Part 3: run Amdahl backwards (the Karp-Flatt metric): from a *measured* speedup on
  ``n`` workers, which serial fraction would explain it? A fraction that grows as you
  add workers means overhead (start-up, pickling, a contended lock), not serial code.
"""

from __future__ import annotations

import math  # noqa: F401  (you will need math.inf in part 2)


def _check_positive(name: str, value: float) -> None:
    """Raise ValueError unless ``value`` is a number greater than zero."""
    if not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a number greater than 0, got {value!r}")


def _check_workers(workers: int, minimum: int = 1) -> None:
    if not isinstance(workers, int) or workers < minimum:
        raise ValueError(f"workers must be a whole number >= {minimum}, got {workers!r}")


def _check_fraction(serial_fraction: float) -> None:
    if not isinstance(serial_fraction, (int, float)) or not 0 <= serial_fraction <= 1:
        raise ValueError(f"serial_fraction must be between 0 and 1, got {serial_fraction!r}")


# --- Part 1 --------------------------------------------------------------------------


def speedup(sequential_seconds: float, parallel_seconds: float) -> float:
    """How many times faster the parallel run was: sequential time / parallel time."""
    # TODO (part 1): how many times faster. Times that make no sense (zero, negative, not a
    # number) are a clear ValueError, never a ZeroDivisionError.
    raise NotImplementedError("Exercise 3, part 1: how many times faster the parallel run was"
                              " (hint: make hint SESSION=3 EXERCISE=3)")


def efficiency(sequential_seconds: float, parallel_seconds: float, workers: int) -> float:
    """Speedup per worker: 1.0 when ``workers`` workers made it ``workers`` times faster."""
    # TODO (part 1): the speedup each worker used contributed; a worker count that makes no
    # sense is a ValueError too.
    raise NotImplementedError("Exercise 3, part 1: how much of the speedup each worker gave"
                              " (hint: make hint SESSION=3 EXERCISE=3)")


# --- Part 2 --------------------------------------------------------------------------


def amdahl_speedup(serial_fraction: float, workers: int) -> float:
    """The best speedup ``workers`` workers can give when ``serial_fraction`` cannot be split."""
    # TODO (part 2): the best speedup `workers` workers can give when this fraction of the
    # work cannot be split (module docstring); arguments out of range are a ValueError.
    raise NotImplementedError("Exercise 3, part 2: the best speedup Amdahl's law allows"
                              " (hint: make hint SESSION=3 EXERCISE=3)")


def amdahl_limit(serial_fraction: float) -> float:
    """The best speedup with unlimited workers: 1 / serial_fraction (infinite when it is 0)."""
    # TODO (part 2): the limit of amdahl_speedup as workers grows without bound.
    raise NotImplementedError("Exercise 3, part 2: the speedup no number of workers can pass"
                              " (hint: make hint SESSION=3 EXERCISE=3)")


# --- Part 3 --------------------------------------------------------------------------


def serial_fraction(measured_speedup: float, workers: int) -> float:
    """The serial fraction that explains ``measured_speedup`` on ``workers`` workers.

    Solve Amdahl's ``S = 1 / (s + (1 - s) / n)`` for ``s`` (on paper first).
    Needs at least 2 workers (with 1, every ``s`` fits).
    """
    # TODO (part 3): the s for which Amdahl's law gives exactly measured_speedup on
    # `workers` workers (solve on paper first); fewer than 2 workers is a ValueError.
    raise NotImplementedError("Exercise 3, part 3: the serial fraction a measured speedup "
                              "implies (hint: make hint SESSION=3 EXERCISE=3)")
