"""Deferrable triggers, run in Airflow's triggerer: `SQLMeshModelFreshTrigger`
(`sqlmesh_freshness.py`), which `SQLMeshModelFreshSensor` defers to; it polls SQLMesh's
state until a model's intervals are complete up to a target time."""
