"""How long the ``warmup`` command takes to start, in CPU seconds (issue 33).

Each case runs as a child process several times; the figure is the median of its user + system
CPU (``getrusage`` of the children), which a busy machine inflates less than wall time. The
baseline is a bare ``python -c pass`` in the same run. ``campaign list`` runs on a fresh SQLite
store, migrated first.

    .venv/bin/python benchmarks/cli_start.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "warmup --version": [sys.executable, "-m", "warmup", "--version"],
    "warmup --help": [sys.executable, "-m", "warmup", "--help"],
    "warmup plan show acs-default": [sys.executable, "-m", "warmup", "plan", "show", "acs-default"],
    "warmup campaign list": [sys.executable, "-m", "warmup", "campaign", "list"],
}
TARGETS = {"warmup --version": 0.3, "warmup --help": 0.3, "warmup campaign list": 0.6}


def cpu_of(command: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
        env["WARMUP_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'cli.db'}"
        env["COLUMNS"] = "120"
        subprocess.run([sys.executable, "-m", "warmup", "db", "upgrade"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        figures = {
            name: statistics.median(cpu_of(command, env) for _ in range(args.runs))
            for name, command in CASES.items()
        }
    result = {
        "benchmark": "cli_start",
        "runs": args.runs,
        "cpu_seconds": {name: round(value, 3) for name, value in figures.items()},
        "targets": TARGETS,
        "met": {name: figures[name] <= target for name, target in TARGETS.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, value in figures.items():
        target = TARGETS.get(name)
        mark = (
            ""
            if target is None
            else f"  (target ≤ {target} s: {'met' if value <= target else 'not met'})"
        )
        print(f"{name:<32} {value:.3f} s CPU{mark}")


if __name__ == "__main__":
    main()
