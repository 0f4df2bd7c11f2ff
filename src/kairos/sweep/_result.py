"""What a sweep returns: its rows, with the ways researchers look at them."""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from kairos.errors import Issue, MissingDependencyError, ValidationError

from ._flips import (
    GridThreshold,
    Predicate,
    ThresholdSpread,
    grid_thresholds,
    has_basin_loss,
    seed_thresholds,
)
from ._rows import RESULT_COLUMNS, SweepRow

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]
    from matplotlib.axes import Axes

HTML_ROWS = 20
"""Rows shown by the notebook view (the first and last halves of a longer sweep)."""


@dataclass(frozen=True)
class SweepResult(Sequence[SweepRow]):
    """The rows of a sweep, one per point, in the order the points were given or drawn.

    ``engine_version`` is the version every row ran on (resolved once when the sweep started,
    so a sweep is reproducible even when the caller did not pin one); ``path`` says how it ran
    (``"local"``, ``"dask"`` or ``"server"``); ``sample_seed`` is the seed of a random sample
    (``None`` for a grid). Equal sweeps give equal results, whatever the path.
    """

    rows: tuple[SweepRow, ...]
    parameters: tuple[str, ...]
    engine_version: str
    ticks: int
    path: str
    sample_seed: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> SweepRow: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SweepRow]: ...

    def __getitem__(self, index: int | slice) -> SweepRow | Sequence[SweepRow]:
        return self.rows[index]

    def __iter__(self) -> Iterator[SweepRow]:
        return iter(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as flat dicts (parameters, then the result columns)."""
        return [row.to_dict() for row in self.rows]

    def points(self) -> list[dict[str, Any]]:
        """The parameter values of every row: ``sweep(build, result.points(), ...)`` runs the
        same points again (a random sample included, whatever the random generator does)."""
        return [dict(row.params) for row in self.rows]

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with one row per point: parameter columns, then the result columns
        (``first_basin_loss_tick`` is a nullable integer). Needs the ``dataframe`` extra."""
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependencyError("SweepResult.to_pandas()", "pandas", "dataframe") from None
        frame = pd.DataFrame.from_records(self.to_dicts())
        if "first_basin_loss_tick" in frame:
            frame["first_basin_loss_tick"] = frame["first_basin_loss_tick"].astype("Int64")
        frame.attrs.update(engine_version=self.engine_version, ticks=self.ticks, path=self.path)
        return frame

    def thresholds(
        self, parameter: str, predicate: Predicate = has_basin_loss
    ) -> list[GridThreshold]:
        """Where ``predicate`` flips along ``parameter``, once per line of the grid (rows with
        equal values of the other parameters); lines where it never flips are left out."""
        return grid_thresholds(self.rows, parameter, predicate)

    def threshold(
        self, parameter: str, predicate: Predicate = has_basin_loss
    ) -> GridThreshold | None:
        """The interval of ``parameter`` where ``predicate`` (default: a basin loss) first
        flips, or ``None`` if it never does. For a sweep over one parameter; with other
        parameters varying use :meth:`thresholds` (and for a Monte Carlo sweep over seeds
        :meth:`threshold_spread`): asked of such a sweep, it raises ``ValidationError`` saying
        so. Refine it with ``find_threshold(build, parameter, t.low, t.high, ...)``."""
        found = self.thresholds(parameter, predicate)
        others = [p for p in self.parameters if p != parameter]
        lines = {tuple(repr(row.params[p]) for p in others) for row in self.rows}
        if len(lines) > 1:
            if others == ["seed"]:
                hint = (
                    f"the sweep repeats every point with {len(lines)} seeds, so there is one "
                    f"threshold per seed: result.threshold_spread({parameter!r}) gives each "
                    "seed's threshold and their spread"
                )
            else:
                hint = (
                    f"the sweep also varies {', '.join(others)}, so there is one threshold per "
                    f"combination of them: use result.thresholds({parameter!r})"
                )
            raise ValidationError([Issue("parameter", hint)], "Invalid call of threshold()")
        return found[0] if found else None

    def threshold_spread(
        self, parameter: str, predicate: Predicate = has_basin_loss
    ) -> ThresholdSpread:
        """For a Monte Carlo sweep that repeats a grid over ``parameter`` with several seeds:
        the threshold of each seed (where ``predicate``, by default a basin loss, first flips
        along ``parameter``) and their spread (mean, standard deviation, range). Any other
        swept parameter raises ``ValidationError`` (use :meth:`thresholds`)."""
        self.thresholds(parameter, predicate)  # checks the parameter
        others = [p for p in self.parameters if p not in (parameter, "seed")]
        if others:
            raise ValidationError(
                [
                    Issue(
                        "parameter",
                        f"the sweep also varies {', '.join(others)}: threshold_spread() is for "
                        f"a sweep over {parameter!r} and seeds only; use "
                        f"result.thresholds({parameter!r})",
                    )
                ],
                "Invalid call of threshold_spread()",
            )
        return seed_thresholds(self.rows, parameter, predicate)

    def plot(
        self, parameter: str | None = None, ax: Axes | None = None, threshold: Any = None
    ) -> Axes:
        """Final phase and mean stability against ``parameter`` (the only swept one by
        default); see :func:`kairos.plotting.plot_sweep`. Needs the ``plotting`` extra."""
        from kairos.plotting import plot_sweep

        if parameter is not None and parameter not in self.parameters:
            raise ValidationError(
                [
                    Issue(
                        "parameter",
                        f"{parameter!r} is not a swept parameter; the parameters are: "
                        f"{', '.join(self.parameters)}",
                    )
                ],
                "Invalid argument for plot()",
            )
        return plot_sweep(self, parameter, ax=ax, threshold=threshold)

    def __repr__(self) -> str:
        return (
            f"SweepResult({len(self.rows)} rows, parameters={list(self.parameters)}, "
            f"engine_version={self.engine_version!r}, ticks={self.ticks}, path={self.path!r})"
        )

    def _repr_html_(self) -> str:
        # The run's own columns; scenario, engine version and ticks are the same on every row.
        same = ("scenario", "engine_version", "ticks")
        columns = [p for p in self.parameters if p != "seed"] + [
            c for c in RESULT_COLUMNS if c not in same
        ]
        shown: list[SweepRow | None] = list(self.rows)
        if len(self.rows) > HTML_ROWS:
            half = HTML_ROWS // 2
            shown = [*self.rows[:half], None, *self.rows[-half:]]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            f"<tr><td colspan='{len(columns)}' style='text-align:center'>&#8942;</td></tr>"
            if row is None
            else "<tr>" + "".join(f"<td>{_cell(row[c])}</td>" for c in columns) + "</tr>"
            for row in shown
        )
        losses = sum(1 for row in self.rows if row.basin_losses)
        caption = (
            f"Sweep of {len(self.rows)} runs over {', '.join(self.parameters)}; engine "
            f"{self.engine_version}, {self.ticks} ticks, {self.path}; {losses} with basin losses"
        )
        return (
            f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "&ndash;" if value is None else html.escape(str(value))
