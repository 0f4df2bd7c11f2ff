"""The worker process: :func:`main` with ``DB``, a SQLite path or a PostgreSQL DSN (started by
the pool with ``python -c``).

It reads one simulation id per line on stdin, runs it with :func:`execute`, and reports on
stdout, one line per message: ``progress <id> <tick>`` after each stored chunk and
``end <id> <status>`` when the run reaches a final status. A plain subprocess rather than a
multiprocessing pool: multiprocessing's spawn and forkserver start methods re-import the
parent's ``__main__``, which in the embedded server is the user's own script.

A worker never outlives its server: on Linux the kernel kills it when the server dies (even by
``kill -9``), elsewhere it exits at its next report, when the pipe to the server is broken.
An orphan left running would go on writing a simulation the next server resumes too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

from kairos.server._execute import execute
from kairos.server._store import REPLICA_ENV, open_store

PARENT_ENV = "KAIROS_WORKER_PARENT"
"""The pid of the server that started the worker (set by the pool)."""

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Have the kernel SIGKILL this process when its parent dies (Linux); False elsewhere, or
    when the parent is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    expected = os.environ.get(PARENT_ENV)
    return expected is None or os.getppid() == int(expected)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(
            "usage: a KAIROS worker takes one argument, DB (a SQLite path or a DSN)",
            file=sys.stderr,
        )
        return 2
    if not die_with_parent():
        return 1  # the server died while this worker was starting
    store = open_store(argv[0], lease_holder=os.environ.get(REPLICA_ENV) or None)
    out = sys.stdout

    def progress(simulation_id: str, tick: int) -> None:
        out.write(f"progress {simulation_id} {tick}\n")
        out.flush()

    for line in sys.stdin:
        simulation_id = line.strip()
        if not simulation_id:
            continue
        status = execute(store, simulation_id, on_progress=progress)
        out.write(f"end {simulation_id} {status}\n")
        out.flush()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
