"""Seed 003's example problems, each runnable as `python -m examples.<name>`."""
