"""DMARC alignment over days (warmup/control/alignment.py): the policy's next step and the
surge of unaligned mail from other sources."""

from __future__ import annotations

from datetime import date, timedelta

from warmup.control.alignment import AlignmentDay, acs_aligned_share, policy_step, unknown_surge

START = date(2026, 11, 1)


def days(shares: list[float], others: list[int] | None = None) -> list[AlignmentDay]:
    """One day per share of 1,000 ACS messages aligned; ``others``: unaligned others a day."""
    extra = others or [0] * len(shares)
    return [
        AlignmentDay(START + timedelta(days=i), 1000, round(1000 * s), extra[i], 0)
        for i, s in enumerate(shares)
    ]


def test_fourteen_aligned_days_in_a_row_allow_the_next_policy_the_day_after() -> None:
    step = policy_step(days([0.995] * 14), "none")
    assert step is not None
    assert step.next == "quarantine"
    assert step.ready_on == START + timedelta(days=14)
    assert step.words().startswith("p=quarantine possible since 2026-11-15")


def test_an_unaligned_day_or_a_gap_starts_the_count_again() -> None:
    broken = days([0.995] * 10 + [0.9] + [0.995] * 5)
    step = policy_step(broken, "none")
    assert step is not None
    assert step.ready_on is None
    assert step.days_in_run == 5
    gap = days([0.995] * 20)
    del gap[7]  # a day without any report
    step = policy_step(gap, "quarantine")
    assert step is not None
    assert step.next == "reject"
    assert step.days_in_run == 12
    assert step.ready_on is None
    assert policy_step(days([1.0] * 20), "reject") is None


def test_other_sources_count_in_the_share_that_allows_the_policy() -> None:
    # ACS's mail all aligned, but 2 % of all mail is someone else's and unaligned.
    step = policy_step(days([1.0] * 14, others=[20] * 14), "none")
    assert step is not None
    assert step.ready_on is None


def test_a_surge_of_unaligned_mail_from_others_is_a_warning() -> None:
    quiet = days([1.0] * 8, others=[10, 12, 9, 11, 10, 8, 12, 30])
    assert unknown_surge(quiet) is None  # under the minimum of 50
    loud = days([1.0] * 8, others=[10, 12, 9, 11, 10, 8, 12, 400])
    warning = unknown_surge(loud)
    assert warning is not None
    assert "rose to 400 on 2026-11-08 (median 10 a day over the 7 days before)" in warning
    steady = days([1.0] * 8, others=[300] * 8)
    assert unknown_surge(steady) is None  # high, but not a rise


def test_the_aligned_share_of_acs_mail() -> None:
    assert acs_aligned_share(days([1.0, 0.98])) == 0.99
    assert acs_aligned_share([]) is None
