"""Benchmarks: scripts that print figures beside their references (`python -m bench`)."""
