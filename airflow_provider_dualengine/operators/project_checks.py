"""Validation-stage checks of the deploy DAG that need no warehouse.

`DbtProjectCheckOperator`: the compiled artifact (SQLMesh description + `dbt parse`
manifest) matches the code being deployed, and every dbt model of the graph is documented.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator


class ProjectCheckFailed(RuntimeError):
    pass


class DbtProjectCheckOperator(BaseOperator):
    custom_operator_name = "dbt project check"
    template_fields: Sequence[str] = ()
    ui_color = "#fde68a"

    def __init__(self, *, project_dir: str, require_docs: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.require_docs = require_docs

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.compiled.artifact import ArtifactProblem, read_artifact
        from airflow_provider_dualengine.config.project import load_project
        from airflow_provider_dualengine.engines.dbt.catalog import read_manifest, undocumented_models

        project = load_project(self.project_dir)
        try:
            read_artifact(project, check_fresh=True)  # the dbt manifest and SQLMesh description are of this code
        except ArtifactProblem as exc:
            raise ProjectCheckFailed(f"compiled artifact does not match the code being deployed: {exc}") from exc
        manifest = read_manifest(project.dbt_manifest_path)
        models = [
            n
            for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["package_name"] == project.dbt_project_name
        ]
        undocumented = sorted(undocumented_models(manifest, project.dbt_project_name))
        self.log.info("dbt manifest fresh: %d models, %d without a description", len(models), len(undocumented))
        if undocumented and self.require_docs:
            raise ProjectCheckFailed(
                f"dbt models without a description: {', '.join(undocumented)}; document them in a schema.yml "
                "(or build the deploy DAG with build_deploy_dag(..., require_dbt_docs=False)); "
                "`dualengine validate -e <production environment>` reports this before deploying"
            )
        return {"models": len(models), "undocumented": undocumented}
