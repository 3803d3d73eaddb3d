"""Import speed and peak memory of `warmup lists import` on a generated CSV.

Generates an N-row CSV (default 1,000,000: address, names, city, engagement), then in the same
process tree:
  1. baseline: a naive single-process loop (csv.reader + email-validator per row, no database),
     the floor any importer pays for validation alone;
  2. `warmup lists import` into a fresh SQLite file;
  3. `warmup lists import` into a fresh PostgreSQL schema (skipped with --no-postgres);
  4. the same file uploaded to `POST /api/lists` of a real `warmup api` process (SQLite): the
     time until the answer (transfer, spooling to disk, import) and the API process's peak RSS,
     which shows whether the upload is streamed rather than held in memory.
Each import runs as its own child process; its peak RSS is that process's maximum resident set
(the validation workers are separate, smaller processes). The rows in the database are counted
afterwards.

    python benchmarks/import_speed.py [--rows 1000000] [--json] [--no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy

POSTGRES = os.environ.get(
    "WARMUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_ROWS_PER_SECOND = 25_000
TARGET_PEAK_MB = 300
CHILD = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(done.stdout)\n"
    "sys.stderr.write(done.stderr)\n"
    "print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def generate(path: Path, rows: int) -> None:
    rng = random.Random(7)
    cities = ["Paris", "Berlin", "Lisbon", "Oslo", "Porto"]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "last_name", "city", "engagement"])
        for i in range(rows):
            domain = rng.choice(["gmail.com", "outlook.com", "yahoo.com", f"corp{i % 500}.example"])
            writer.writerow(
                [
                    f"user{i}.{rng.randint(1, 99)}@{domain}",
                    f"First{i}",
                    f"Last{i % 9000}",
                    rng.choice(cities),
                    f"{rng.random():.3f}",
                ]
            )


def baseline(path: Path) -> dict[str, Any]:
    from email_validator import EmailNotValidError, validate_email

    started = time.perf_counter()
    rows = 0
    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        next(reader)
        for record in reader:
            rows += 1
            with contextlib.suppress(EmailNotValidError):
                validate_email(record[0], check_deliverability=False)
    seconds = time.perf_counter() - started
    return {
        "target": "baseline (csv + email-validator, no database)",
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
    }


API_CHILD = (
    "import resource, signal, subprocess, sys\n"
    "process = subprocess.Popen(sys.argv[1:])\n"
    "signal.signal(signal.SIGTERM, lambda *_: process.terminate())\n"
    "process.wait()\n"
    "print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
)


def run_api_upload(path: Path, folder: Path) -> dict[str, Any]:
    import requests

    from warmup.store.database import Database
    from warmup.tokens import Role, TokenStore

    url = f"sqlite:///{folder / 'api.db'}"
    database = Database.connect(url)
    token, _ = TokenStore(database).create("bench", Role.MARKETING, actor="bench", at=_now())
    database.dispose()
    port = _free_port()
    env = {**os.environ, "WARMUP_DATABASE_URL": url, "WARMUP_API_DATA_DIR": str(folder / "api")}
    env["WARMUP_LOG_LEVEL"] = "WARNING"
    api = subprocess.Popen(
        [
            sys.executable,
            "-c",
            API_CHILD,
            sys.executable,
            "-m",
            "warmup",
            "api",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        started = time.perf_counter()
        with path.open("rb") as upload:
            answer = requests.post(
                f"{base}/api/lists",
                headers={"Authorization": f"Bearer {token}"},
                params={"wait": "true"},
                data={"name": "bench"},
                files={"file": ("list.csv", upload, "text/csv")},
                timeout=3600,
            )
        seconds = time.perf_counter() - started
        answer.raise_for_status()
    finally:
        api.terminate()
        out, _ = api.communicate(timeout=60)
    imported = int(answer.json()["report"]["imported"])
    peak_kb = int(re.search(r"peak_kb (\d+)", out).group(1))  # type: ignore[union-attr]
    return {
        "target": "api upload (SQLite)",
        "rows": imported,
        "stored": imported,
        "seconds": round(seconds, 2),
        "rows_per_second": round(imported / seconds),
        "peak_mb": round(peak_kb / 1024, 1),
        "upload_mb": round(path.stat().st_size / 1024**2, 1),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def run_import(path: Path, url: str, label: str) -> dict[str, Any]:
    env = {**os.environ, "WARMUP_DATABASE_URL": url, "WARMUP_ACTOR": "benchmark"}
    command = [
        sys.executable,
        "-c",
        CHILD,
        sys.executable,
        "-m",
        "warmup",
        "lists",
        "import",
        str(path),
        "--name",
        f"bench-{uuid.uuid4().hex[:6]}",
        "--rejected",
        str(path.with_suffix(".rej.csv")),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{label} import failed:\n{done.stdout}\n{done.stderr}")
    imported = int(re.search(r"([\d,]+) imported", done.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
    inner = float(re.search(r"in ([\d.]+) s", done.stdout).group(1))  # type: ignore[union-attr]
    peak_kb = int(re.search(r"peak_kb (\d+)", done.stdout).group(1))  # type: ignore[union-attr]
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text("select count(*) from recipients")).scalar_one()
    engine.dispose()
    return {
        "target": label,
        "rows": imported,
        "stored": stored,
        "seconds": inner,
        "wall_seconds_with_startup": round(wall, 2),
        "rows_per_second": round(imported / inner),
        "peak_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-api", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="warmup-bench-") as folder:
        path = Path(folder) / "list.csv"
        generate(path, args.rows)
        results = [
            baseline(path),
            run_import(path, f"sqlite:///{Path(folder) / 'bench.db'}", "sqlite"),
        ]
        if not args.no_postgres:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = sqlalchemy.create_engine(POSTGRES)
            with admin.begin() as connection:
                connection.execute(sqlalchemy.text(f'create schema "{schema}"'))
            url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
            try:
                from warmup.store.database import Database

                Database.connect(url, migrate=True).dispose()  # what the migrate Job does
                results.append(run_import(path, url, "postgresql"))
            finally:
                with admin.begin() as connection:
                    connection.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
                admin.dispose()
        if not args.no_api:
            results.append(run_api_upload(path, Path(folder)))

    for result in results[1:]:
        result["meets_target"] = (
            result["rows_per_second"] >= TARGET_ROWS_PER_SECOND
            and result["peak_mb"] <= TARGET_PEAK_MB
            and result["stored"] == args.rows
        )
        result["vs_baseline"] = round(result["rows_per_second"] / results[0]["rows_per_second"], 2)
    report = {
        "benchmark": "import_speed",
        "rows": args.rows,
        "cores": os.cpu_count(),
        "target": {"rows_per_second": TARGET_ROWS_PER_SECOND, "peak_mb": TARGET_PEAK_MB},
        "results": results,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"import of {args.rows:,} rows, {os.cpu_count()} cores "
        f"(target >= {TARGET_ROWS_PER_SECOND:,} rows/s, <= {TARGET_PEAK_MB} MB)"
    )
    for r in results:
        extra = (
            (
                f", peak {r['peak_mb']} MB, {r['stored']:,} stored, x{r['vs_baseline']} baseline, "
                f"{'meets' if r['meets_target'] else 'MISSES'} target"
            )
            if "peak_mb" in r
            else ""
        )
        print(f"  {r['target']:<48} {r['rows_per_second']:>8,} rows/s ({r['seconds']} s{extra})")


if __name__ == "__main__":
    main()
