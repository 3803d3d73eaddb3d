"""The A/B winner: clicks, then opens, then delivery, then fewer complaints; ties keep A."""

from __future__ import annotations

import pytest

from warmup.control.ab_winner import VariantResult, pick_winner


def result(label: str, *, sent: int = 100, delivered: int = 100, opens: int = 0, clicks: int = 0,
           complaints: int = 0) -> VariantResult:  # fmt: skip
    return VariantResult(label, sent, delivered, opens, clicks, complaints)


def test_clicks_decide_first_even_against_more_opens() -> None:
    pick = pick_winner([result("A", opens=50, clicks=5), result("B", opens=30, clicks=9)])
    assert pick.winner == "B"
    assert pick.reason.startswith("variant B wins on clicks (A: clicks 5.0%, opens 50.0%")


def test_opens_decide_when_clicks_tie() -> None:
    pick = pick_winner([result("A", opens=10), result("B", opens=12), result("C", opens=11)])
    assert (pick.winner, pick.reason.split(" (")[0]) == ("B", "variant B wins on opens")


def test_without_engagement_tracking_delivery_then_complaints_decide() -> None:
    pick = pick_winner([result("A", delivered=97), result("B", delivered=99)])
    assert (pick.winner, pick.reason.split(" (")[0]) == ("B", "variant B wins on delivery")
    pick = pick_winner([result("A", complaints=2), result("B", complaints=1)])
    assert (pick.winner, pick.reason.split(" (")[0]) == ("B", "variant B wins on fewer complaints")


def test_a_tie_on_everything_keeps_the_campaigns_own_message() -> None:
    pick = pick_winner([result("A"), result("B"), result("C")])
    assert pick.winner == "A"
    assert "a tie on every measure" in pick.reason


def test_rates_are_per_delivered_message_so_bounces_do_not_count_against_opens() -> None:
    # B reached fewer people but more of those it reached clicked.
    pick = pick_winner([result("A", delivered=100, clicks=10), result("B", delivered=50, clicks=6)])
    assert pick.winner == "B"


def test_no_results_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        pick_winner([])
