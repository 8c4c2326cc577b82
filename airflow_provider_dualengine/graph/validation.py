"""Checks only `dualengine validate` runs: they read more than DAG parsing may (the dbt
manifest, the dbt source YAML files), so the factory leaves them out and stays fast.

- every gateway named in dualengine.yml or an environment exists in the SQLMesh config;
- dbt sources in a SQLMesh schema name a real SQLMesh model and take their schema suffix
  from the provider's dbt var (else they read prod views in every environment);
- for an environment that is SQLMesh's prod (what blue-green deployments target): the
  rules the deploy DAG enforces, before anyone deploys: no dbt view over a SQLMesh model,
  every dbt model documented.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine.compiled.artifact import gateway_issue
from airflow_provider_dualengine.compiled.document import CompiledArtifact
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.errors import ConfigIssue
from airflow_provider_dualengine.config.project import Project, ResolvedEnvironment
from airflow_provider_dualengine.engines.catalog import ModelCatalog
from airflow_provider_dualengine.graph.build import dbt_views_on_sqlmesh

DEPLOY_VIEW_REASON = "in a blue-green deployment it would keep reading the green SQLMesh environment, which the next deployment re-plans while it is live"


def validate_project(
    project: Project,
    artifact: CompiledArtifact,
    catalogs: dict[Engine, ModelCatalog],
    environment: ResolvedEnvironment,
    require_dbt_docs: bool = True,
) -> list[ConfigIssue]:
    from airflow_provider_dualengine.engines.dbt.catalog import read_manifest

    manifest = read_manifest(project.dbt_manifest_path)
    issues = gateway_issues(project, artifact)
    issues += _source_issues(project, artifact, manifest)
    if environment.sqlmesh_environment == "prod":
        issues += deploy_issues(project, catalogs, manifest, environment, require_dbt_docs)
    return issues


def gateway_issues(project: Project, artifact: CompiledArtifact) -> list[ConfigIssue]:
    """Gateways set in dualengine.yml and in every environment, against the SQLMesh config."""
    if not artifact.sqlmesh.records_gateways:
        return [
            ConfigIssue(
                project.artifact_path,
                "sqlmesh.gateways",
                "the compiled artifact predates gateway checks (written by an older provider)",
                f"run `dualengine compile {project.root}` (or `dualengine validate --compile`)",
            )
        ]
    known = artifact.sqlmesh.gateways
    issues, seen = [], set()
    named = [(None, project.settings.sqlmesh.gateway)] + [
        (name, spec.sqlmesh.gateway) for name, spec in project.environments.items()
    ]
    for environment, gateway in named:
        if not gateway or (known is not None and gateway.lower() in known):
            continue
        issue = gateway_issue(project, environment, gateway, known)
        if (issue.file, issue.key) not in seen:
            seen.add((issue.file, issue.key))
            issues.append(issue)
    return issues


def _source_issues(project: Project, artifact: CompiledArtifact, manifest: dict[str, Any]) -> list[ConfigIssue]:
    from airflow_provider_dualengine.engines.dbt.source_schemas import sqlmesh_source_issues

    models = sorted(artifact.sqlmesh.models)
    return sqlmesh_source_issues(
        manifest, project.dbt_path, project.dbt_project_name, models, project.settings.dbt.sqlmesh_suffix_var
    )


def deploy_issues(
    project: Project,
    catalogs: dict[Engine, ModelCatalog],
    manifest: dict[str, Any],
    environment: ResolvedEnvironment,
    require_dbt_docs: bool = True,
) -> list[ConfigIssue]:
    """What the deploy DAG of `environment` would refuse at parse time or in its validation stage."""
    from airflow_provider_dualengine.engines.dbt.catalog import undocumented_models

    issues = dbt_views_on_sqlmesh(catalogs, project.files["settings"], DEPLOY_VIEW_REASON, project.dbt_path)
    if require_dbt_docs:
        for name, path in sorted(undocumented_models(manifest, project.dbt_project_name).items()):
            issues.append(
                ConfigIssue(
                    project.dbt_path / path if path else project.dbt_path,
                    f"model {name}",
                    f"dbt model '{name}' has no description; the deploy DAG of '{environment.name}' refuses undocumented models in its validation stage",
                    f"describe it in a schema .yml (`models: [{{name: {name}, description: ...}}]`), or build the deploy DAG with require_dbt_docs=False and validate with --no-dbt-docs",
                )
            )
    return issues
