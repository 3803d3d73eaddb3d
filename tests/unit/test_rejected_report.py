"""A rejected-rows report kept in the store: compressed, within its bound, whole lines only."""

import gzip
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from warmup.lists.jobs import compressed_report

HEADER = b"line,email,reason\n"


def report(tmp_path: Path, rows: int, seed: int = 0) -> Path:
    path = tmp_path / f"rejected-{rows}-{seed}.csv"
    lines = [HEADER]
    # Varied rows (a hash-like token each): text that compresses about as real reports do.
    lines += [
        f"{i + 2},p{(i * 7919 + seed) % 104729:x}@bad,invalid address\n".encode()
        for i in range(rows)
    ]
    path.write_bytes(b"".join(lines))
    return path


def test_a_report_under_the_bound_is_kept_whole(tmp_path: Path) -> None:
    path = report(tmp_path, 1000)
    packed, complete = compressed_report(path, 1024**2)
    assert complete
    assert gzip.decompress(packed) == path.read_bytes()


def test_a_long_report_keeps_its_first_whole_lines_within_the_bound(tmp_path: Path) -> None:
    path = report(tmp_path, 200_000)  # about 6 MB of CSV
    limit = 64 * 1024
    packed, complete = compressed_report(path, limit)
    assert not complete
    assert len(packed) <= limit
    kept = gzip.decompress(packed)
    assert kept.startswith(HEADER)
    assert kept.endswith(b"\n")
    assert path.read_bytes().startswith(kept)
    assert len(kept) > 4 * limit  # it packs: far more rows than the bound in bytes


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(0, 5000), limit=st.integers(4096, 40_000), seed=st.integers(0, 99))
def test_never_over_the_bound_and_always_a_prefix_of_whole_lines(
    tmp_path_factory: object, rows: int, limit: int, seed: int
) -> None:
    folder = tmp_path_factory.mktemp("reports")  # type: ignore[attr-defined]
    path = report(folder, rows, seed)
    packed, complete = compressed_report(path, limit)
    kept = gzip.decompress(packed)
    assert len(packed) <= limit
    assert complete == (kept == path.read_bytes())
    assert path.read_bytes().startswith(kept)
    assert kept == b"" or kept.endswith(b"\n")
