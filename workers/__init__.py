"""Celery app and thin tasks that call ``warmup.*``.

The dependency points one way only: ``workers`` imports ``warmup``, never the reverse
(``tests/unit/test_layering.py`` pins it), so every decision stays testable without Celery.
"""
