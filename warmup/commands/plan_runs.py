"""``warmup plan simulate --runs N``: many simulated runs with chance, over a process pool, and
their summary (docs/decisions.md)."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from warmup.commands.console import make_console
from warmup.commands.output import print_json
from warmup.commands.progress import counting
from warmup.control.monte_carlo import RunResult, Scenario, run_many
from warmup.views.plans import MonteCarloOut, monte_carlo_out

console = make_console()


def print_runs(
    scenario: Scenario, runs: int, seed: int, workers: int | None, *, as_json: bool
) -> MonteCarloOut:
    """Run, summarise and print; the summary is returned for callers that want the figures."""
    processes = max(1, min(workers or os.cpu_count() or 1, runs))
    with counting(f"{runs:,} runs of {scenario.days} days, run") as done:
        if processes == 1:
            summary = run_many(scenario, runs, seed, random.Random, mapper=_counted(map, done))
        else:
            with ProcessPoolExecutor(processes) as pool:
                spread = _pool_map(pool, chunk=max(1, runs // (processes * 8)))
                summary = run_many(
                    scenario, runs, seed, random.Random, mapper=_counted(spread, done)
                )
    out = monte_carlo_out(scenario.plan.name, scenario.days, summary)
    if as_json:
        print_json(out)
    else:
        _print(out)
    return out


Mapped = Callable[[Callable[[int], RunResult], Iterable[int]], Iterable[RunResult]]


def _pool_map(pool: ProcessPoolExecutor, chunk: int) -> Mapped:
    def mapped(one: Callable[[int], RunResult], seeds: Iterable[int]) -> Iterator[RunResult]:
        return pool.map(one, seeds, chunksize=chunk)

    return mapped


def _counted(mapper: Mapped, done: Callable[[int], None]) -> Mapped:
    """``mapper``, telling ``done`` how many runs have finished."""

    def mapped(one: Callable[[int], RunResult], seeds: Iterable[int]) -> Iterator[RunResult]:
        for index, result in enumerate(mapper(one, seeds)):
            done(index + 1)
            yield result

    return mapped


def _share(count: int, runs: int) -> str:
    return f"{count:,} of {runs:,} ({count / runs:.1%})" if runs else "-"


def _print(out: MonteCarloOut) -> None:
    runs = out.runs
    final = (
        f"median day {out.days_to_final_median:g}, p90 day {out.days_to_final_p90:g}"
        if out.days_to_final_median is not None and out.days_to_final_p90 is not None
        else "never"
    )
    lines = [
        f"{out.plan}: {runs:,} runs of {out.days} days (seeds {out.seed}–{out.seed + runs - 1})",
        f"  reached the final step: {_share(out.reached_final_step, runs)}; {final}",
        f"  holds per run {out.holds_per_run:.2f}, pauses per run {out.pauses_per_run:.2f}",
        f"  runs with any hold or pause: {_share(out.runs_with_any_hold, runs)}",
        f"  runs with the whole domain paused: {_share(out.runs_with_a_domain_pause, runs)}",
        f"  false holds (every true rate below the hold line): {out.false_holds_per_run:.3f} "
        f"per run, in {_share(out.runs_with_a_false_hold, runs)}",
        f"  most releases of one gate in a day: {out.most_releases_a_day}; releases on a day "
        f"the gate sent nothing: {out.releases_without_sends}",
    ]
    for d in out.detection:
        lines.append(
            f"  {d.gate}: true failure rate at its pause line from day {d.crossed_on_day}: held "
            f"or paused within 1 sending day in {_share(d.within_1_sending_day, d.runs)}, "
            f"within 2 in {_share(d.within_2_sending_days, d.runs)}, never in {d.never}; "
            f"sends before: median {_figure(d.sends_before_median)}, "
            f"p90 {_figure(d.sends_before_p90)}"
        )
    for line in lines:
        console.print(line, highlight=False, markup=False)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
