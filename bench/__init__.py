"""Benchmarks (`make bench`): throughput and memory, printed, never asserted in tests."""
