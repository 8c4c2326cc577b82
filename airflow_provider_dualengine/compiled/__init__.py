"""The compiled project artifact: what DAG parsing reads instead of loading the engines."""

from airflow_provider_dualengine.compiled.artifact import (
    ArtifactProblem,
    compile_project,
    ensure_compiled,
    read_artifact,
)

__all__ = ["ArtifactProblem", "compile_project", "ensure_compiled", "read_artifact"]
