"""One spelling for an address and for a domain: the forms stored and looked up meet."""

import pytest

from warmup.addresses import InvalidAddress, address_key, domain_key, sender_domain


def test_an_internationalised_domain_is_spelt_as_its_addresses_store_it() -> None:
    assert domain_key(" Bücher.Example. ") == "xn--bcher-kva.example"
    assert sender_domain("News@Bücher.example") == domain_key("bücher.example")
    assert domain_key("XN--BCHER-KVA.example") == "xn--bcher-kva.example"


def test_a_name_that_is_no_domain_is_only_trimmed_and_lower_cased() -> None:
    assert domain_key(" Not A Domain ") == "not a domain"


def test_a_sender_that_is_not_an_address_is_refused_by_name() -> None:
    with pytest.raises(InvalidAddress):
        sender_domain("news-at-example.com")


def test_address_key_meets_the_stored_form() -> None:
    assert address_key(" Ada@Bücher.example ") == "ada@xn--bcher-kva.example"
