"""`python -m bench`: run the benchmarks, print one table, write bench/results/*.json."""

from bench.harness import main

raise SystemExit(main())
