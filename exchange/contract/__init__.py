"""Contracts: the model, validation, Great Expectations suites, lint, diff and agreements."""
