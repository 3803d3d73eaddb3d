"""Delivery feedback: ACS delivery reports in, outcomes, suppressions and health decisions out."""
