"""Pure warm-up decisions: health verdicts, the state machine and allowances.

Nothing here reads the clock or talks to a service: times and counts are arguments.
"""
