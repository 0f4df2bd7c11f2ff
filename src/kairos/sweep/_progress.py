"""A progress bar for long sweeps that stays out of logs and CI output.

``progress=None`` (auto) shows a bar only when someone is watching: stderr is a terminal, or
the code runs in a Jupyter kernel. ``True``/``False`` force it. The bar is tqdm's (its notebook
widget when ipywidgets is installed, its text bar otherwise).
"""

from __future__ import annotations

import importlib.util
import sys
from types import TracebackType
from typing import Any


def wanted(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    if "ipykernel" in sys.modules:
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """Counts finished runs; a no-op when no bar is shown."""

    def __init__(self, total: int, progress: bool | None, description: str) -> None:
        self._bar: Any = None
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
        self._bar = tqdm(total=total, desc=description, unit="run", dynamic_ncols=True)

    def update(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
