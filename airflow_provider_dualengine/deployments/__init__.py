"""Coordinated blue-green deployments across SQLMesh and dbt: green relations and dbt slots,
one-transaction promotion, failure points and rollback plans, durable records of each run."""
