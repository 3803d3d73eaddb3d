"""The rejected-rows report of an import: each refused row with its line and reason.

The file is created with the first refused row, so a clean import leaves no empty report behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from warmup.csvsafe import SafeCsvWriter


class RejectedRows:
    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self._path = path
        self._header = ["line", "reason", *header]
        self._file: IO[str] | None = None
        self._writer: SafeCsvWriter | None = None

    def add(self, line: int, reason: str, values: Sequence[str]) -> None:
        if self._writer is None:
            # Owner-only (0600): the rows hold people's addresses and fields.
            descriptor = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            # Closed by __exit__: the report is written row by row while the import runs.
            self._file = os.fdopen(descriptor, "w", newline="", encoding="utf-8")
            self._writer = SafeCsvWriter(self._file, self._header)
        self._writer.row([line, reason, *values])

    def __enter__(self) -> RejectedRows:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
