"""``kairos run``, ``stream``, ``validate`` and ``versions``."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from kairos.cli._common import (
    add_client_options,
    add_command,
    add_scenario_arguments,
    check_outputs,
    fail,
    load_scenario,
    make_client,
    positive_int,
    save_plot,
    show_progress,
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = add_command(commands, "run", _run)
    add_scenario_arguments(run, ticks_help="ticks to run")
    run.add_argument("--out", type=Path, help="write the trace as JSON lines (constant memory)")
    run.add_argument("--plot", type=Path, help="write a stability plot (PNG; plotting extra)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    run.add_argument(
        "--drop-late-events",
        action="store_true",
        help="run a scenario with events after the last tick by leaving those events out "
        "(refused otherwise: such a run is easily mistaken for the whole scenario)",
    )
    add_client_options(run)

    stream = add_command(commands, "stream", _stream)
    add_scenario_arguments(stream, ticks_help="ticks to run")
    stream.add_argument(
        "--every", type=positive_int, default=1, metavar="K", help="write every K-th step only"
    )
    add_client_options(stream)

    add_scenario_arguments(add_command(commands, "validate", _validate))

    versions = add_command(commands, "versions", _versions)
    versions.add_argument("--url", default=None, help="ask this server")
    versions.add_argument("--api-key", default=None, help="API key for --url")


def _run(args: argparse.Namespace) -> int:
    """run a scenario and summarize its trace

    Run a scenario file to completion and print what the run came to.
    """
    scenario = load_scenario(args.scenario).validate()
    check_outputs(args)
    if args.out is not None and args.out.exists() and not args.overwrite:
        fail(f"{args.out} exists; pass --overwrite to replace it")
    with make_client(args) as client:
        trace = _collect(client, scenario, args)
    _print_summary(trace)
    if args.out is not None:
        print(f"trace written to {args.out}")
    if args.plot is not None:
        from kairos.plotting import plot_stability

        save_plot(plot_stability(trace), args.plot)
    return 0


def _collect(client: Any, scenario: Any, args: argparse.Namespace) -> Any:
    """Run to completion with a progress bar on a terminal: a Trace, or a trace file."""
    if args.out is not None and args.overwrite:
        args.out.unlink(missing_ok=True)
    bar = _bar(args.ticks)
    try:
        return client.run(
            scenario,
            args.ticks,
            out=args.out,
            progress=bar.update,
            drop_late_events=args.drop_late_events,
        )
    finally:
        bar.close()


def _stream(args: argparse.Namespace) -> int:
    """stream a run's steps as JSON lines

    Run a scenario and write each step to stdout as one JSON line, as it is computed (constant
    memory; pipe it into jq or a file).
    """
    from kairos.engine import canonical_json
    from kairos.trace._trace_file import step_wire

    scenario = load_scenario(args.scenario).validate()
    out = sys.stdout
    with make_client(args) as client:
        for step in client.stream_run(scenario, ticks=args.ticks):
            if step.t % args.every == 0 or step.t == args.ticks:
                # The engine's canonical line: absent optional fields stay absent.
                out.write(canonical_json(step_wire(step)) + "\n")
    out.flush()
    return 0


def _validate(args: argparse.Namespace) -> int:
    """check a scenario file

    Check a scenario file against the engine's rules without running it; every problem is
    listed with its field path. Exits 1 when the scenario is invalid.
    """
    from kairos.errors import ValidationError

    try:
        scenario = load_scenario(args.scenario).validate()
    except ValidationError as exc:
        print(f"{args.scenario}: invalid ({len(exc.issues)} problem(s))")
        for issue in exc.issues:
            print(f"  {issue.path}: {issue.message}")
        return 1
    print(
        f"{args.scenario}: valid ({len(scenario.models)} model(s), "
        f"{len(scenario.oversight_bodies)} oversight body(ies), {len(scenario.events)} event(s))"
    )
    return 0


def _versions(args: argparse.Namespace) -> int:
    """list engine versions

    List the engine versions: the default, the active ones a run may pin, and the retired ones.
    With --url, the server's; otherwise this installation's engine.
    """
    if args.url is not None:
        from kairos.client import KairosClient

        with KairosClient(url=args.url, api_key=args.api_key) as client:
            versions: dict[str, Any] = client.engine.versions().model_dump(
                by_alias=True, mode="json"
            )
        where = args.url
    else:
        from kairos.engine import engine_versions

        versions = engine_versions()
        where = "this installation"
    print(f"engine versions of {where} (default {versions['default']}):")
    for entry in versions["active"]:
        mark = "*" if entry["version"] == versions["default"] else " "
        print(f" {mark} {entry['version']:<8} {entry['released']}  {entry['notes']}")
    for entry in versions["retired"]:
        # Release notes of retired versions may say so themselves ("Retired: ...").
        notes = re.sub(r"(?i)^retired:\s*", "", entry["notes"])
        print(f"   {entry['version']:<8} {entry['released']}  retired: {notes}")
    return 0


def _print_summary(trace: Any) -> None:
    md = trace.metadata
    losses = trace.basin_losses()
    rows = [
        ("simulation", md.simulation_id or "-"),
        ("scenario", md.scenario_name),
        ("engine version", md.engine_version),
        ("seed", md.seed),
        ("ticks", len(trace)),
        ("final phase", trace.final_phase()),
        ("mean stability", f"{trace.mean_stability():.6f}"),
        ("min stability", f"{trace.min_stability():.6f}"),
        ("phase transitions", len(trace.phase_transitions())),
        ("basin losses", len(losses)),
        ("first basin loss", f"tick {losses[0].tick} ({losses[0].agent})" if losses else "none"),
        ("ghost branches", len(trace.ghost_branches())),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _bar(total: int) -> Any:
    class _Quiet:
        def update(self, count: int) -> None:
            pass

        def close(self) -> None:
            pass

    if not show_progress():
        return _Quiet()
    from tqdm import tqdm  # type: ignore[import-untyped]

    return tqdm(total=total, unit="tick", unit_scale=True, dynamic_ncols=True, file=sys.stderr)
