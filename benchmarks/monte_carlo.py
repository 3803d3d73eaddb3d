"""The gates under chance: `plan simulate --runs` on the issue-34 scenarios of acs-default
(harness/ramp_targets.py), with each target's figure and whether it is met.

    python benchmarks/monte_carlo.py [--runs 1000] [--seed 1] [--workers N] [--json]

Each scenario runs once, its runs spread over a process pool; the figures are deterministic for
a seed and a run count (whatever the machine), the seconds are not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.ramp_targets import SEED, targets
from warmup.control.monte_carlo import Summary, run_many
from warmup.views.plans import monte_carlo_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    summaries: dict[int, tuple[Summary, float]] = {}
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(args.workers) as pool:
        for target in targets():
            key = id(target.scenario)
            if key not in summaries:
                began = time.perf_counter()
                summary = run_many(
                    target.scenario,
                    args.runs,
                    args.seed,
                    random.Random,
                    mapper=lambda one, seeds: pool.map(one, seeds, chunksize=16),
                )
                summaries[key] = (summary, time.perf_counter() - began)
            summary, seconds = summaries[key]
            figure = target.figure(summary)
            results.append(
                {
                    "target": target.name,
                    "says": target.says,
                    "figure": round(figure, 4),
                    "met": target.met(figure),
                    "seconds": round(seconds, 1),
                    "summary": monte_carlo_out(
                        "acs-default", target.scenario.days, summary
                    ).model_dump(mode="json"),
                }
            )
    if args.json:
        print(json.dumps({"runs": args.runs, "seed": args.seed, "targets": results}, indent=2))
        return
    last = args.seed + args.runs - 1
    print(f"acs-default, {args.runs:,} runs per scenario, seeds {args.seed}-{last}")
    for r in results:
        mark = "met" if r["met"] else "NOT MET"
        s = r["summary"]
        print(f"  {r['target']}: {r['says']}: {r['figure']:.1%} ({mark}; {r['seconds']} s)")
        print(
            f"      holds/run {s['holds_per_run']}, pauses/run {s['pauses_per_run']}, "
            f"false holds in {s['runs_with_a_false_hold']} runs, days to the final step "
            f"median {s['days_to_final_median']} p90 {s['days_to_final_p90']} "
            f"({s['reached_final_step']} runs reached it)"
        )
        for d in s["detection"]:
            print(
                f"      {d['gate']}: within 1 sending day {d['within_1_sending_day']}, within 2 "
                f"{d['within_2_sending_days']}, never {d['never']}; sends before: median "
                f"{d['sends_before_median']}, p90 {d['sends_before_p90']}"
            )


if __name__ == "__main__":
    main()
