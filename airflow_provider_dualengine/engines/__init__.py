"""Engine-specific code: one sub-package per engine (SQLMesh, dbt)."""
