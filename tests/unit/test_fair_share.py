from hypothesis import given
from hypothesis import strategies as st

from warmup.control.fair_share import Demand, split


def test_equal_priority_shares_equally_and_passes_on_what_is_unused() -> None:
    shares = split(100, [Demand(1, 0, 1000), Demand(2, 0, 10), Demand(3, 0, 1000)])
    assert shares == {1: 45, 2: 10, 3: 45}


def test_higher_priority_first() -> None:
    assert split(100, [Demand(1, 0, 500), Demand(2, 5, 80)]) == {1: 20, 2: 80}


def test_remainder_goes_to_the_first_in_id_order() -> None:
    assert split(10, [Demand(3, 0, 9), Demand(1, 0, 9), Demand(2, 0, 9)]) == {1: 4, 2: 3, 3: 3}


@given(
    allowance=st.integers(min_value=0, max_value=10_000),
    demands=st.lists(
        st.builds(Demand, st.integers(0, 50), st.integers(0, 3), st.integers(0, 3000)),
        max_size=8,
        unique_by=lambda d: d.campaign_id,
    ),
)
def test_never_more_than_allowed_or_wanted_and_nothing_wasted(
    allowance: int, demands: list[Demand]
) -> None:
    shares = split(allowance, demands)
    assert sum(shares.values()) == min(allowance, sum(d.pending for d in demands))
    for demand in demands:
        assert 0 <= shares[demand.campaign_id] <= demand.pending
