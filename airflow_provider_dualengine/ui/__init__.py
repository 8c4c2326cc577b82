"""The dual-engine view inside the Airflow UI: a FastAPI app the api-server mounts at
`/dualengine` (plugin.py), behind Airflow's own authentication.

Reads only: the compiled artifact and config of each configured project (projects.py),
the warehouse's `dualengine.*` tables in one short read-only session (warehouse_state.py),
and who may see which DAG from Airflow's auth manager (auth.py). The one action, a
rollback, is a DAG run the user's browser triggers through Airflow's REST API with the
user's own credentials; this app has no endpoint that writes.
"""
