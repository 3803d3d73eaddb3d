"""Ramp plans: the model, YAML loading with precise errors, summaries and simulation."""
