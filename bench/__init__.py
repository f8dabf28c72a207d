"""Benchmarks: `make bench` (python -m bench). Figures are printed, with ratios against a baseline
measured in the same run; nothing here asserts on time."""
