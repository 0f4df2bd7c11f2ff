"""Where a server runs its simulations: one interface, two implementations.

* ``"local"`` (the default): :class:`kairos.server._pool.WorkerPool`, worker processes on the
  server's machine that write their runs to the store themselves.
* a Dask scheduler address (``tcp://scheduler:8786``):
  :class:`kairos.server._dask_executor.DaskExecutor`, segments of each run computed on a Dask
  cluster and written to the store by the server.

Either way the store is the truth: an executor only turns queued simulations into stored steps,
and a run it loses resumes from its last stored checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from kairos.errors import KairosError

if TYPE_CHECKING:
    from kairos.server._config import ServerConfig
    from kairos.server._store import SimulationStore

LOCAL = "local"

_ADDRESS = re.compile(r"(tcp|tls|ws|wss|ucx)://(\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+)(:\d{1,5})?")


class ExecutorError(KairosError, ValueError):
    """The executor named by ``--executor`` / ``ServerConfig.executor`` cannot be used: not an
    address, Dask is not installed, or its scheduler cannot be reached. Also a ``ValueError``,
    as the server's other configuration mistakes are."""


class Executor(Protocol):
    """Runs the simulations submitted to it, each to a final status in the store, and calls
    ``notify(simulation_id)`` whenever a run stored progress or ended."""

    def start(self) -> None:
        """Begin taking simulations (on the server's event loop)."""

    def submit(self, simulation_id: str) -> None:
        """Queue a stored simulation (new, or left unfinished) to run from its last checkpoint."""

    @property
    def pending(self) -> int:
        """Simulations submitted and not yet started."""

    async def stop(self) -> None:
        """Stop; runs in progress stay ``running`` with their checkpoint, for the next server."""


def check_executor(spec: str) -> str:
    """``spec`` if it names an executor (``"local"`` or a Dask scheduler address such as
    ``tcp://host:8786``), else :class:`ExecutorError`. Pure: nothing is contacted."""
    if spec == LOCAL or _ADDRESS.fullmatch(spec):
        return spec
    raise ExecutorError(
        f"--executor {spec!r} is neither 'local' nor a Dask scheduler address "
        "such as tcp://scheduler:8786"
    )


async def start_executor(
    config: ServerConfig, store: SimulationStore, notify: Callable[[str], None]
) -> Executor:
    """The executor ``config`` names, started."""
    executor: Executor
    if config.executor == LOCAL:
        from kairos.server._pool import WorkerPool

        executor = WorkerPool(store, config.workers, notify)
    else:
        from kairos.server._dask_executor import DaskExecutor

        executor = await DaskExecutor.connect(
            config.executor,
            store,
            notify,
            timeout=config.executor_timeout_seconds,
            chunk_steps=config.chunk_steps,
        )
    executor.start()
    return executor
