"""On-demand benchmarks (not part of the test suite's pass/fail): ``make bench``."""
