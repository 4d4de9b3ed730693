"""The throwaway PostgreSQL of the tests (scripts/pgcluster.py, which the benchmarks use too)."""

from scripts.pgcluster import REQUIRED, Cluster, Missing

__all__ = ["REQUIRED", "Cluster", "Missing"]
