"""bench/: Kiln against its peers (bench/run.py drives it; docs/performance.md explains it)."""
