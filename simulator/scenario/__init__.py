"""Scenario files: models, rules, timing, faults, rate limits, the model catalog, and their checks."""
