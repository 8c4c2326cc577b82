"""The compiled project artifact: what DAG parsing reads instead of loading the engines."""

from airflow_provider_dualengine.compiled.artifact import (
    compile_project,
    ensure_compiled,
    read_artifact,
)
from airflow_provider_dualengine.compiled.document import (
    ARTIFACT_VERSION,
    ArtifactProblem,
    ArtifactVersionError,
    CompiledArtifact,
)

__all__ = [
    "ARTIFACT_VERSION",
    "ArtifactProblem",
    "ArtifactVersionError",
    "CompiledArtifact",
    "compile_project",
    "ensure_compiled",
    "read_artifact",
]
