"""User configuration: the project's YAML files turned into validated objects."""

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import Project, load_project

__all__ = ["ConfigIssue", "DualEngineConfigError", "Project", "load_project"]
