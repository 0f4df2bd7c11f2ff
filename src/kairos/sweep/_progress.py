"""A progress bar for long sweeps that stays out of logs and CI output.

``progress=None`` (auto) shows a bar only when someone is watching: stderr is a terminal, or
the code runs in a Jupyter kernel. ``True``/``False`` force it. The bar is tqdm's (its notebook
widget when ipywidgets is installed, its text bar otherwise).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from kairos._closing import ClosedOnExit


def wanted(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    if "ipykernel" in sys.modules:
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class Progress(ClosedOnExit):
    """Counts the ticks computed by a sweep's runs; a no-op when no bar is shown.

    The bar counts ticks rather than runs, so that a long sweep moves while one batch of runs
    is still being computed.
    """

    def __init__(self, runs: int, ticks: int, progress: bool | None, description: str) -> None:
        self._bar: Any = None
        self.ticks = ticks
        if not wanted(progress):
            return
        try:
            if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets"):
                from tqdm.auto import tqdm  # type: ignore[import-untyped]
            else:
                from tqdm import tqdm  # type: ignore[import-untyped]
        except ImportError:
            if progress:
                raise ImportError(
                    "progress=True needs tqdm: pip install tqdm (or pass progress=None)"
                ) from None
            return
        self._bar = tqdm(
            total=runs * ticks,
            desc=f"{description} ({runs} runs)",
            unit="tick",
            unit_scale=True,
            dynamic_ncols=True,
        )

    def update(self, ticks: int) -> None:
        """``ticks`` more ticks computed (of any runs)."""
        if self._bar is not None:
            self._bar.update(ticks)

    def runs(self, count: int) -> None:
        """``count`` more runs computed completely."""
        self.update(count * self.ticks)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
