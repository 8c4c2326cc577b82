"""Tests on one real Airflow cluster, shared by every module of this package.

The cluster (tests/cluster/: the wheel in a venv, PostgreSQL metadata DB, Redis,
CeleryExecutor, one process per component) is started by the first test of the package
that asks for it and stopped right after the package's last test (conftest.py). Modules
run in alphabetical order and build on what the earlier ones did:

- test_cluster.py: the import errors a new user sees before the warehouse connection
  exists, the connection, the example DAG's run (during which an operator calls
  `dualengine deployments` ten times) and the production deploy DAG's run.
- test_concurrent_operation.py: the CLI calls during that run; two deployments racing,
  on DuckDB and on PostgreSQL.
- test_ui_plugin.py: the provider's UI in the cluster's api-server.

Each module also runs alone: the conftest creates what it needs (the connections, the
example run) when it is first asked for.
"""
