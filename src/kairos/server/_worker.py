"""The worker process: ``python -m kairos.server._worker DB_PATH``.

It reads one simulation id per line on stdin, runs it with :func:`execute`, and reports on
stdout, one line per message: ``progress <id> <tick>`` after each stored chunk and
``end <id> <status>`` when the run reaches a final status. A plain subprocess rather than a
multiprocessing pool: multiprocessing's spawn and forkserver start methods re-import the
parent's ``__main__``, which in the embedded server is the user's own script.
"""

from __future__ import annotations

import sys

from kairos.server._runner import execute
from kairos.server._storage import Store


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m kairos.server._worker DB_PATH", file=sys.stderr)
        return 2
    store = Store(argv[0])
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
