"""Helpers of bench/bench.py: processes, the daemon, the load generator, the peer, the table."""
