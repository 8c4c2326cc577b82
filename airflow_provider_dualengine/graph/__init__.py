"""The unified cross-engine graph: stages and their models, engine-neutral."""

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.graph.build import build_graph, load_catalogs
from airflow_provider_dualengine.graph.model import ModelNode, StageNode, UnifiedGraph

__all__ = ["Engine", "ModelNode", "StageNode", "UnifiedGraph", "build_graph", "load_catalogs"]
