"""``with thing: ...`` closes the thing: the one ``__enter__``/``__exit__`` pair of every
object that has a ``close()`` (clients, progress bars, trace writers)."""

from __future__ import annotations

from types import TracebackType

from typing_extensions import Self

__all__ = ["ClosedOnExit"]


class ClosedOnExit:
    """A mixin: leaving a ``with`` block calls ``close()``, however it is left."""

    def close(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
