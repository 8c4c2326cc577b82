"""Coordinated deployments across SQLMesh and dbt: durable records of each run."""
