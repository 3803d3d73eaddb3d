"""CSV files the project writes, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel and LibreOffice (CSV injection); such cells are prefixed with ``'`` (OWASP's
advice), which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


STDOUT = Path("-")  # the Unix convention: ``-o -`` writes to standard output


@contextmanager
def open_output(path: Path) -> Iterator[IO[str]]:
    """The CSV file to write at ``path``, or standard output for ``-``."""
    if path == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    with path.open("w", newline="", encoding="utf-8") as out:
        yield out


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, stream: IO[str], header: Sequence[str]) -> None:
        self._writer = csv.writer(stream)
        self._writer.writerow([safe_cell(h) for h in header])

    def row(self, values: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(v) for v in values])
