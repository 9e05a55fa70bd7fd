"""A Redis failover that loses acknowledged work, counted; then the same with WAIT.

    python session7_engines/demos/demo_failover_loses_work.py

Starts its own primary and replica ``redis-server`` processes (ports the OS picks,
no persistence, stopped at the end), runs session 5's queue on the primary:
20 tasks enqueued, 5 completed; replication is cut; 5 more completed and 5 more
enqueued; the primary is SIGKILLed and the replica promoted (``REPLICAOF NO ONE``).
It prints what the clients were told, what the promoted replica still has, and
what session 5's epoch check says. Then the same run with ``WAIT 1 <ms>`` after
each write, the same failover on a replica cut before the queue's first write,
and what WAIT costs on a healthy pair (a ratio, in this run).
"""

from __future__ import annotations

import argparse

from session7_engines.failover import run_failover, wait_cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait-ms", type=int, default=200,
                        help="WAIT's timeout in the second run (default 200)")
    parser.add_argument("--rounds", type=int, default=300,
                        help="tasks timed for WAIT's cost (default 300)")
    args = parser.parse_args(argv)
    print("1. replication cut after 20 enqueues and 5 completions; 5 + 5 more writes; "
          "failover")
    print("\n".join(run_failover().lines()))
    print(f"\n2. the same, each write followed by WAIT 1 {args.wait_ms}")
    print("\n".join(run_failover(wait_ms=args.wait_ms).lines()))
    print("\n3. the same as 1 on a replica cut off before the queue's first write")
    print("\n".join(run_failover(cut_before_first_write=True).lines()))
    cost = wait_cost(args.rounds)
    print(f"\nWAIT's cost on a healthy pair ({cost['rounds']} tasks, enqueue + claim + "
          f"complete): {cost['without_per_s']:.0f} tasks/s without, {cost['with_per_s']:.0f} "
          f"with; without/with = {cost['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
