"""Observability across both engines: run history in the warehouse, cost, metrics, report."""
