"""The shapes warmup answers in: each thing (a campaign, a domain, a list, a suppression, a
plan's schedule, a simulation) has one pydantic model here, built by one function.

The HTTP API returns these models and the CLI's ``--json`` prints them, so a script gets the
same fields from either. Changing a field is a change to the documented interface
(``docs/json.md``).
"""
