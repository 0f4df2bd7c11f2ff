"""A griffe extension for the docs site: a lazy package's ``__all__`` is its stub's names.

The packages that re-export lazily list their public names once, in ``__init__.pyi``
(``kairos._deferred``); their ``__all__`` is built from it when the package is imported, which
griffe, reading the source, cannot see. This gives each such module the ``__all__`` the running
package has, read from the stub by the package's own reader, so the API reference documents
the names the package exports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import griffe

from kairos._deferred import read_stub


class StubExports(griffe.Extension):
    """Sets ``exports`` on each module that has an ``__init__.pyi`` beside it."""

    def on_module_members(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        path = mod.filepath
        if not isinstance(path, Path) or path.name not in ("__init__.py", "__init__.pyi"):
            return
        stub = path.with_suffix(".pyi")
        if stub.exists():
            mod.exports = [name for name, _, _ in read_stub(str(stub), mod.path)]
