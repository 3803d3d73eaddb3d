"""Campaigns: what marketing sends, the send ledger behind it, and its reports."""
