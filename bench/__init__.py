"""CirQliz benchmarks: the targets of BRIEF §8, measured as ratios against a baseline in one run.

Run `python -m bench` (all), `python -m bench --only verify,qr`, or `python -m bench --quick`
(fewer iterations, a CI smoke run). Each benchmark is a module `bench/bench_<name>.py` with
`run(config) -> list[Row]`; adding one is adding a file (see bench/harness.py).
"""
