"""Benchmarks (`make bench`): throughput and memory, reported as ratios."""
