"""A file name means one thing across the package: no module name stands in two rooms."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import kairos

SRC = Path(kairos.__file__).parent


def test_no_module_name_is_used_in_two_packages() -> None:
    rooms: dict[str, list[str]] = defaultdict(list)
    for path in SRC.rglob("*.py"):
        if path.name != "__init__.py":
            rooms[path.stem.lstrip("_")].append(str(path.relative_to(SRC)))
    shared = {name: places for name, places in rooms.items() if len(places) > 1}
    assert shared == {}


def test_the_architecture_map_names_every_room() -> None:
    text = (SRC.parents[1] / "docs" / "architecture.md").read_text()
    packages = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").exists())
    missing = [name for name in packages if f"`{name}/`" not in text]
    assert missing == []
