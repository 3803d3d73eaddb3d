import io

import pytest

from warmup.csvsafe import SafeCsvWriter, safe_cell


@pytest.mark.parametrize("text", ["=1+1", "+33 1 23", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_run_are_defused(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["ada@example.org", "1+1", "", None, 42])
def test_other_cells_are_kept(value: object) -> None:
    assert safe_cell(value) == ("" if value is None else str(value))


def test_writer_defuses_header_and_rows() -> None:
    out = io.StringIO()
    writer = SafeCsvWriter(out, ["=h", "ok"])
    writer.row(["=cmd|' /C calc'!A0", "plain"])
    assert out.getvalue().splitlines() == ["'=h,ok", "'=cmd|' /C calc'!A0,plain"]
