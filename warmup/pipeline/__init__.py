"""The sending pipeline without Celery: dispatch ticks, batch sending, reconciliation.

``workers/`` wraps these in thin Celery tasks; tests and the demo can also drive them directly.
"""
