"""The Monte Carlo targets of issue 34 on a fixed seed (harness/ramp_targets.py): many runs of
acs-default with failures drawn around the true rates, through the real controller.

benchmarks/monte_carlo.py records the figures for 1,000 runs per scenario; this test asserts
the same targets on fewer (the figures are deterministic for a seed and a count), so that it
stays within a couple of minutes on two cores.
"""

import os
import random
from concurrent.futures import ProcessPoolExecutor

import pytest

from harness.ramp_targets import SEED, targets
from warmup.control.monte_carlo import Summary, run_many

RUNS = 400


@pytest.mark.timeout(900)  # about 2 minutes on two cores
def test_the_gates_meet_their_monte_carlo_targets() -> None:
    summaries: dict[int, Summary] = {}
    missed = []
    with ProcessPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        for target in targets():
            key = id(target.scenario)
            if key not in summaries:
                summaries[key] = run_many(
                    target.scenario,
                    RUNS,
                    SEED,
                    random.Random,
                    mapper=lambda one, seeds: pool.map(one, seeds, chunksize=10),
                )
            summary = summaries[key]
            figure = target.figure(summary)
            if not target.met(figure):
                missed.append(f"{target.name}: {target.says}: {figure:.1%}")
            # Decisions, in every run: no gate releases twice a day, none on a day it sent
            # nothing.
            assert summary.most_releases_a_day <= 1, target.name
            assert summary.releases_without_sends == 0, target.name
    assert not missed, missed
