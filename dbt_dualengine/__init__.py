"""dbt plugin of airflow-provider-dualengine: SQLMesh models as nodes dbt can `ref()`.

dbt imports every top-level `dbt_*` module and instantiates the classes in its
`plugins` list (the mechanism dbt-loom uses for cross-project refs). Ours adds one
external model node per SQLMesh model, so a dbt model can write
``{{ ref('staging.customer_enhanced') }}`` (or ``ref('sqlmesh', 'staging.customer_enhanced')``)
and read the SQLMesh view of the environment it runs in.

It does nothing unless a dual-engine project is found (``DUALENGINE_SQLMESH_MODELS``
names a models file, or a ``dualengine.yml`` sits above the dbt project), so other dbt
projects in the same Python environment are unaffected. Kept import-light: every dbt
invocation in this environment imports it.
"""

from __future__ import annotations

from dbt.plugins.manager import dbt_hook, dbtPlugin
from dbt.plugins.manifest import PluginNodes


class SQLMeshModels(dbtPlugin):
    """Injects the SQLMesh project's models into dbt's manifest as refable nodes."""

    @dbt_hook
    def get_nodes(self) -> PluginNodes:
        # Resolved on every parse, not once per process: the environment (dbt var
        # `sqlmesh_schema_suffix`, or the name dualengine.yml's `dbt.sqlmesh_suffix_var`
        # gives it, recorded in the compiled artifact) and the SQLMesh project can differ
        # between invocations.
        from airflow_provider_dualengine.engines.dbt.sqlmesh_refs import sqlmesh_plugin_nodes

        return sqlmesh_plugin_nodes()


plugins = [SQLMeshModels]
