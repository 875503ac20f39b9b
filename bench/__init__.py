"""Benchmarks and quality evaluations; each script prints a table (see docs/benchmarks.md)."""
