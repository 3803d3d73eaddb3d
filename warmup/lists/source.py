"""Reading an uploaded CSV as it really is: any encoding, delimiter, line ending or header.

The file is read as bytes, one physical line at a time, and each line is decoded on its own, so
a bad byte is reported with its line number and memory stays flat however large the file is.
UTF-16/32 files (Excel's "Unicode text") are recognised by their byte-order mark and decoded as
a stream instead. The delimiter is sniffed from the first lines unless given.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from warmup.errors import WarmupError

SNIFF_LINES = 50
DELIMITERS = ",;\t|"
EMAIL_HEADERS = (
    "email",
    "e_mail",
    "email_address",
    "e_mail_address",
    "emailaddress",
    "mail",
    "address",
    "recipient",
)
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# Codecs Python counts as text encodings that no file of rows is written in: they transform
# text (punycode, idna) or escape it, and reading a CSV through them fails in odd ways.
NOT_FOR_FILES = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined"})


def check_text_encoding(name: str) -> None:
    """Refuse a name that is no character encoding of files (unknown, or a bytes-to-bytes or
    text-to-text codec such as rot13, zlib_codec or base64_codec): user input, a clear 4xx."""
    try:
        info = codecs.lookup(name)
        "a".encode(info.name)  # a codec that is not a text encoding refuses this
    except LookupError:
        info = None
    if info is None or info.name in NOT_FOR_FILES:
        raise ImportFailure(
            f"{name!r} is not a text encoding this import can read: name the file's character "
            "encoding, e.g. utf-8, cp1252, latin-1, utf-16"
        )


def _is_wide(encoding: str) -> bool:
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


class ImportFailure(WarmupError):
    """The file cannot be imported at all; nothing was written."""


def normalise_header(name: str, position: int) -> str:
    cleaned = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    return cleaned or f"column_{position + 1}"


class CsvSource:
    """Rows of a CSV file with the line each starts on. Call :meth:`open` first."""

    def __init__(
        self,
        path: Path,
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        max_line_bytes: int = 1 << 20,
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = delimiter
        self.max_line_bytes = max_line_bytes
        self.header: list[str] = []
        self.raw_header: list[str] = []
        self._binary: IO[bytes] | None = None
        self._records: Iterator[list[str]] | None = None
        self._decoded = 0  # physical lines decoded (read ahead while sniffing)
        self._line = 0  # physical lines the csv parser has consumed

    @property
    def bytes_read(self) -> int:
        return self._binary.tell() if self._binary is not None else 0

    def open(self) -> CsvSource:
        if self.encoding is not None:
            check_text_encoding(self.encoding)
        self._binary = self.path.open("rb")
        head = self._binary.read(4)
        self._binary.seek(0)
        wide = next((enc for bom, enc in _WIDE_BOMS if head.startswith(bom)), None)
        if wide is None and self.encoding is not None and _is_wide(self.encoding):
            wide = self.encoding  # UTF-16/32 named without a BOM: lines are not split on bytes
        if wide is not None:
            self.encoding = wide
        lines = self._wide_lines(wide) if wide else self._byte_lines(head)
        sample = list(itertools.islice(lines, SNIFF_LINES))
        if not sample or not "".join(sample).strip():
            raise ImportFailure(f"{self.path.name} is empty")
        self.delimiter = self.delimiter or self._sniff("".join(sample))
        # strict: a quote opened and never closed is an error with its line, not a field that
        # silently swallows the rest of the file.
        records = csv.reader(
            self._counted(itertools.chain(sample, lines)), delimiter=self.delimiter, strict=True
        )
        self._records = records
        first = self._next_record()
        if first is None:
            raise ImportFailure(f"{self.path.name} is empty")
        self.raw_header = first[1]
        self.header = [normalise_header(name, i) for i, name in enumerate(self.raw_header)]
        seen: dict[str, int] = {}
        for position, name in enumerate(self.header):
            if name in seen:
                raise ImportFailure(
                    f"line {first[0]}: columns {seen[name] + 1} and {position + 1} are both named "
                    f"'{name}'; rename one so personalisation fields are unambiguous"
                )
            seen[name] = position
        return self

    def _counted(self, lines: Iterator[str]) -> Iterator[str]:
        for line in lines:
            self._line += 1
            yield line

    def _byte_lines(self, head: bytes) -> Iterator[str]:
        assert self._binary is not None
        encoding = self.encoding or "utf-8"
        if head.startswith(codecs.BOM_UTF8):
            self._binary.read(len(codecs.BOM_UTF8))
            encoding = "utf-8"
        for raw in self._binary:
            self._decoded += 1
            if len(raw) > self.max_line_bytes:
                raise ImportFailure(
                    f"line {self._decoded}: longer than {self.max_line_bytes:,} bytes; "
                    "a field that large is not a recipient list"
                )
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ImportFailure(
                    f"line {self._decoded}: not valid {encoding} (byte 0x{raw[exc.start]:02x} at "
                    f"column {exc.start + 1}); if the file uses another encoding, say which with "
                    "--encoding (for example cp1252 or latin-1)"
                ) from None

    def _wide_lines(self, encoding: str) -> Iterator[str]:
        assert self._binary is not None
        text = io.TextIOWrapper(self._binary, encoding=encoding, newline="")
        try:
            for line in text:
                self._decoded += 1
                yield line
        except UnicodeDecodeError:
            raise ImportFailure(f"line {self._decoded + 1}: not valid {encoding}") from None
        finally:
            # Let go of the file without closing it: progress still reads its position.
            text.detach()

    def _sniff(self, sample: str) -> str:
        try:
            return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        except csv.Error:
            first_line = sample.splitlines()[0] if sample else ""
            counts = {d: first_line.count(d) for d in DELIMITERS}
            best = max(counts, key=lambda d: counts[d])
            return best if counts[best] else ","

    def _next_record(self) -> tuple[int, list[str]] | None:
        assert self._records is not None
        start = self._line + 1
        try:
            record = next(self._records)
        except StopIteration:
            return None
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise ImportFailure(
                    f"line {start}: a quote opened in this record is never closed"
                ) from None
            raise ImportFailure(f"line {start}: {exc}") from None
        return start, record

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line the record starts on, fields) for every record after the header."""
        while True:
            item = self._next_record()
            if item is None:
                return
            yield item

    def close(self) -> None:
        if self._binary is not None:
            self._binary.close()

    def email_column(self, requested: str | None) -> int:
        if requested is not None:
            wanted = normalise_header(requested, 0)
            if wanted not in self.header:
                raise ImportFailure(
                    f"no column {requested!r}; the header has: {', '.join(self.raw_header)}"
                )
            return self.header.index(wanted)
        for candidate in EMAIL_HEADERS:
            if candidate in self.header:
                return self.header.index(candidate)
        # "Work Mail", "Contact e-mail": one column that says mail is the one.
        mails = [i for i, name in enumerate(self.header) if "mail" in name]
        if len(mails) == 1:
            return mails[0]
        raise ImportFailure(
            f"no email column: the header has {', '.join(self.raw_header) or 'nothing'}; "
            "name the column 'email' or pass --email-column"
        )
