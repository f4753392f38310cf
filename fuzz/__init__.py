"""Fuzzing of every decoder and importer of CirQliz (bad input must give typed errors only).

`python -m fuzz` runs a bounded, deterministic mutation campaign over all targets (see
fuzz/targets.py and fuzz/runner.py); `python -m fuzz.atheris_fuzz TARGET` runs one target under
atheris (coverage-guided) when it is installed. Crashing inputs are saved under fuzz/crashes/.
"""
