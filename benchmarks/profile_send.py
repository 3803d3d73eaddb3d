"""Where a send worker's CPU goes at full rate (issue 19): py-spy on the real processes.

Starts the same deployment as ``pipeline.py throughput`` (emulator at 100 ms, private Redis,
fresh PostgreSQL schema, a dispatcher worker, a send worker with 2 processes, beat), lets it warm
up, then samples both send processes with ``py-spy record`` for ``--seconds`` and sorts every
sample's leaf frame into where its time goes: the Azure SDK and its HTTP stack, warmup's own
code, the database driver and ORM, Redis, templates, JSON, the event loop, and the rest. Also
reports the send processes' peak RSS. py-spy needs ptrace rights (root, or
``CAP_SYS_PTRACE``).

    python benchmarks/profile_send.py [--seconds 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import deployment, plan_yaml

from warmup.control.allowance import AcsQuota

PY_SPY = str(Path(sys.executable).with_name("py-spy"))  # installed with the dev extras
# Where a leaf frame's file lives → what its time is spent on; the first match wins.
CATEGORIES = [
    ("azure SDK and azure-core", ("/azure/",)),
    ("aiohttp, yarl, multidict (HTTP)", ("/aiohttp/", "/yarl/", "/multidict/")),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("psycopg (PostgreSQL driver)", ("/psycopg/", "/psycopg_binary/")),
    ("redis client", ("/redis/",)),
    ("Jinja2 templates", ("/jinja2/", "/markupsafe/")),
    ("JSON", ("/json/",)),
    ("Celery, kombu, billiard", ("/celery/", "/kombu/", "/billiard/")),
    ("ssl, sockets, selectors", ("/ssl.py", "/socket.py", "/selectors.py")),
    ("asyncio event loop", ("/asyncio/",)),
    ("threading, queues, concurrent", ("/threading.py", "/queue.py", "/concurrent/")),
    ("logging, OpenTelemetry", ("/logging/", "/opentelemetry/")),
    ("email, mime", ("/email/",)),
    ("warmup", ("/warmup/",)),
]


def category(frame: str) -> str:
    for name, markers in CATEGORIES:
        if any(marker in frame for marker in markers):
            return name
    return "other (interpreter, stdlib)"


def children(pid: int) -> list[int]:
    """The pool processes of a Celery worker (Linux: from /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the peak resident set
            return int(line.split()[1]) / 1024
    return 0.0


def profile(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with deployment(
            folder,
            recipients=int(seconds * 1400) + 40_000,
            plan=plan_yaml(1_000_000, 4_000_000),
            quota=AcsQuota(10_000_000, 100_000_000),
            emulator_args=["--latency-ms", "100"],
            send_processes=2,
        ) as (_database, emulator, celery):
            time.sleep(10)  # warm up: clients built, the queue full
            sender = celery.processes["sender"].pid
            pool = children(sender)
            before = int(emulator.stats()["accepted"])
            recorders = [
                subprocess.Popen(
                    [PY_SPY, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                     "--rate", "200", "--format", "raw", "--nonblocking", "--full-filenames",
                     "--output", str(folder / f"{pid}.txt")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                )
                for pid in pool
            ]  # fmt: skip
            for recorder in recorders:
                _, error = recorder.communicate(timeout=seconds + 60)
                if recorder.returncode != 0:
                    raise SystemExit(f"py-spy failed: {error.decode()[-500:]}")
            sent = int(emulator.stats()["accepted"]) - before
            peak = max(rss_mb(pid) for pid in pool)
            samples: Counter[str] = Counter()
            functions: Counter[str] = Counter()
            for pid in pool:
                for line in (folder / f"{pid}.txt").read_text().splitlines():
                    stack, _, count = line.rpartition(" ")
                    leaf = stack.split(";")[-1]
                    samples[category(leaf)] += int(count)
                    functions[leaf] += int(count)
    total = sum(samples.values()) or 1
    return {
        "benchmark": "profile_send",
        "seconds": seconds,
        "send_processes": len(pool),
        "emails_sent_while_sampling": sent,
        "emails_per_second": round(sent / seconds, 1),
        "peak_rss_mb_per_send_process": round(peak, 1),
        "samples": total,
        "share_by_category": {
            name: round(count / total, 3) for name, count in samples.most_common()
        },
        "top_functions": [
            {"frame": frame, "share": round(count / total, 3)}
            for frame, count in functions.most_common(15)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = profile(args.seconds)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['emails_per_second']}/s over {result['seconds']} s, "
        f"{result['send_processes']} send processes, peak RSS "
        f"{result['peak_rss_mb_per_send_process']} MB each, {result['samples']} samples"
    )
    for name, share in result["share_by_category"].items():
        print(f"  {share:6.1%}  {name}")
    print("top leaf frames:")
    for entry in result["top_functions"]:
        print(f"  {entry['share']:6.1%}  {entry['frame']}")


if __name__ == "__main__":
    main()
