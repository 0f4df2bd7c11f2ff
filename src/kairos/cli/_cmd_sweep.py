"""``kairos sweep``: vary fields of a scenario file over a grid and tabulate the outcomes."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kairos.cli._common import (
    add_command,
    add_scenario_arguments,
    check_outputs,
    fail,
    load_scenario,
    positive_int,
    save_plot,
)
from kairos.engine import DEFAULT_MAX_TICKS

if TYPE_CHECKING:
    from decimal import Decimal

_STEP = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sweep = add_command(
        commands,
        "sweep",
        _sweep,
        epilog="Example: kairos sweep scenario.json --vary models[0].capabilityIndex=100:1000:18 "
        "--ticks 500 --plot sweep.png. A range A:B:STEP includes B when it lies on the grid.",
    )
    add_scenario_arguments(sweep)
    sweep.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="FIELD=VALUES",
        help="a field path in wire form and its values: A:B:STEP or V1,V2,... (repeatable)",
    )
    sweep.add_argument("--ticks", type=positive_int, required=True, help="ticks per run")
    sweep.add_argument(
        "--seeds",
        type=positive_int,
        default=None,
        metavar="N",
        help="Monte Carlo: repeat every point with seeds 0..N-1",
    )
    sweep.add_argument(
        "--max-ticks",
        type=positive_int,
        default=None,
        metavar="N",
        help="allow runs longer than the reference server's default limit "
        f"({DEFAULT_MAX_TICKS} ticks) in this process",
    )
    sweep.add_argument("--engine-version", default=None, metavar="V", help="pin an engine version")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--url", default=None, help="run on this server (default: this process)")
    where.add_argument("--dask", default=None, metavar="ADDRESS", help="run on a Dask scheduler")
    sweep.add_argument("--api-key", default=None, help="API key for --url")
    sweep.add_argument(
        "--out", type=Path, help="write the rows as CSV (.csv) or Parquet (.parquet)"
    )
    sweep.add_argument("--plot", type=Path, help="write a sweep plot (PNG; plotting extra)")


def parse_values(spec: str) -> list[Any]:
    """``100:1000:18`` -> 100, 118, ..., 1000 (exact decimal steps); ``a,b`` -> [a, b]."""
    from decimal import Decimal, InvalidOperation

    match = _STEP.match(spec)
    if match:
        try:
            start, stop, step = (Decimal(part) for part in match.groups())
        except InvalidOperation:
            fail(f"bad range {spec!r}: expected numbers A:B:STEP")
        if step <= 0 or stop < start:
            fail(f"bad range {spec!r}: needs A <= B and STEP > 0")
        count = int((stop - start) / step) + 1
        if count > 100_000:
            fail(f"range {spec!r} has {count} points; at most 100000")
        return [_number(start + i * step) for i in range(count)]
    values = [v.strip() for v in spec.split(",") if v.strip()]
    if not values:
        fail(f"no values in {spec!r}")
    return [_literal(v) for v in values]


def set_field(wire: dict[str, Any], path: str, value: Any) -> None:
    """Set ``models[0].capabilityIndex``-style ``path`` in a wire scenario."""
    parts = [(m[1], m[2]) for m in _FIELD.finditer(path)]
    if not parts or "".join(f".{n}" if n else f"[{i}]" for n, i in parts).lstrip(".") != path:
        fail(f"bad field path {path!r}: use the wire form, e.g. models[0].capabilityIndex")
    target: Any = wire
    for depth, (name, index) in enumerate(parts):
        last = depth == len(parts) - 1
        key: Any = name if name else int(index)
        try:
            if last:
                if (name and isinstance(target, dict)) or (not name and isinstance(target, list)):
                    target[key] = value
                    return
                raise KeyError(key)
            target = target[key]
        except (KeyError, IndexError, TypeError):
            fail(f"field path {path!r} does not exist in the scenario")


def _sweep(args: argparse.Namespace) -> int:
    """sweep scenario fields over a grid

    Run one simulation per point of a grid over fields of a scenario file and print what each
    run came to, with the threshold where basin losses begin.
    """
    import copy

    from kairos.sweep import sweep

    base = load_scenario(args.scenario).to_wire()
    check_outputs(args)
    # sweep() passes parameters as keywords: each field path gets an identifier, and the table,
    # the file and the plot show the path again.
    paths: dict[str, str] = {}
    grid: dict[str, list[Any]] = {}
    for item in args.vary:
        path, sep, spec = item.partition("=")
        path = path.strip()
        if not sep:
            fail(f"--vary {item!r}: expected FIELD=VALUES")
        set_field(copy.deepcopy(base), path, 0)
        name = "seed" if path == "seed" else _identifier(path, paths)
        paths[name] = path
        grid[name] = parse_values(spec)
    if args.seeds is not None:
        if "seed" in grid:
            fail("--seeds and --vary seed=... both set the seed; use one")
        grid["seed"] = list(range(args.seeds))

    def build(**params: Any) -> dict[str, Any]:
        wire = copy.deepcopy(base)
        for name, value in params.items():
            set_field(wire, paths.get(name, name), value)
        return wire

    options: dict[str, Any] = {
        "ticks": args.ticks,
        "engine_version": args.engine_version,
        "max_ticks": args.max_ticks or DEFAULT_MAX_TICKS,
    }
    if args.ticks > options["max_ticks"]:
        fail(
            f"--ticks {args.ticks} is more than {options['max_ticks']} ticks per run; pass "
            "--max-ticks N to allow longer runs"
        )
    dask_client: Any = None
    client: Any = None
    if args.dask is not None:
        import distributed

        connect: Any = distributed.Client
        dask_client = options["executor"] = connect(args.dask)
    elif args.url is not None:
        from kairos.client import KairosClient

        client = options["client"] = KairosClient(url=args.url, api_key=args.api_key)
    try:
        result = sweep(build, grid, **options)
    finally:
        if client is not None:
            client.close()
        if dask_client is not None:
            dask_client.close()
    swept = [p for p in grid if p != "seed"]
    print_rows(result, swept, labels=paths)
    if len(swept) == 1 and len(grid.get("seed", ())) > 1:
        print_spread(result.threshold_spread(swept[0]), paths[swept[0]])
    elif len(swept) == 1:
        threshold = result.threshold(swept[0])
        label = paths[swept[0]]
        if threshold is None:
            print(f"\nno basin losses appear across {label}")
        else:
            print(f"\nbasin losses begin between {label} = {threshold.low} and {threshold.high}")
    if args.out is not None:
        write_rows(result, args.out, labels=paths)
        print(f"rows written to {args.out}")
    if args.plot is not None:
        save_plot(result.plot(swept[0]), args.plot)
    return 0


def print_rows(result: Any, parameters: list[str], labels: Mapping[str, str] | None = None) -> None:
    labels = labels or {}
    header = [
        *(labels.get(p, p) for p in parameters),
        "seed",
        "final phase",
        "mean S",
        "min S",
        "losses",
        "first loss",
    ]
    rows = [
        [
            *(str(row[p]) for p in parameters),
            str(row.seed),
            row.final_phase,
            f"{row.mean_stability:.4f}",
            f"{row.min_stability:.4f}",
            str(row.basin_losses),
            "-" if row.first_basin_loss_tick is None else str(row.first_basin_loss_tick),
        ]
        for row in result
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def print_spread(spread: Any, label: str) -> None:
    """Each seed's threshold of a Monte Carlo sweep, then their spread."""
    print(f"\nwhere basin losses begin along {label}, per seed:")
    for seed, threshold in spread.by_seed.items():
        where = (
            "no basin losses appear"
            if threshold is None
            else f"between {threshold.low} and {threshold.high}"
        )
        print(f"  seed {seed}: {where}")
    seeds = len(spread.by_seed)
    if spread.mean is None:
        print(f"no basin losses appear across {label} in any of the {seeds} seeds")
        return
    print(
        f"threshold {label} = {spread.mean:.6g} +/- {spread.std:.3g} (mean +/- std of the "
        f"interval midpoints), range {spread.min:.6g} to {spread.max:.6g}, "
        f"{len(spread.values)} of {seeds} seeds"
    )


def write_rows(result: Any, path: Path, labels: Mapping[str, str] | None = None) -> None:
    labels = labels or {}
    if path.suffix == ".parquet":
        result.to_pandas().rename(columns=dict(labels)).to_parquet(path, index=False)
        return
    records: list[Mapping[str, Any]] = [
        {labels.get(k, k): v for k, v in row.to_dict().items()} for row in result
    ]
    import csv

    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        for record in records:
            writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in record.items()})


def _identifier(path: str, taken: Mapping[str, str]) -> str:
    name = re.sub(r"\W+", "_", path).strip("_") or "field"
    if name[0].isdigit():
        name = "f_" + name
    while name in taken:
        name += "_"
    return name


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _literal(text: str) -> Any:
    from decimal import Decimal, InvalidOperation

    try:
        return _number(Decimal(text))
    except InvalidOperation:
        return text
