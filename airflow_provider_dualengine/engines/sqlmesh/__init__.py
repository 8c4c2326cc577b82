"""SQLMesh engine, without Airflow: what we ask of SQLMesh itself.

Describing the project once at compile time (`compile.py`; the project's config with a
gateway's connections replaced, `project_config.py`; load errors as ConfigIssues,
`errors.py`), summaries of plans (`plans.py`) and per-model outcomes recorded while a plan or
run executes (`outcomes.py`), a model's interval freshness read from state alone
(`freshness.py`), SQLMesh's half of a coordinated promotion (`promotion.py`), OpenLineage
datasets named as Cosmos names dbt's (`openlineage.py`), and the dbt table a model reads in
the current environment (`dbt_tables.py`, for the `@dbt_model` macro).

The Context is built by `hooks/sqlmesh.py`; models become Airflow tasks in
`factory/sqlmesh_tasks.py`.
"""
