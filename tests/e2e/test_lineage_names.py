"""One lineage graph across both engines: every edge of the compiled model graph joins in
OpenLineage (producer's output and consumer's input have the same namespace and name) and
in Airflow's Assets (producer's outlet URI is the consumer's inlet URI), on DuckDB and
PostgreSQL, with dbt run by our stage build and by Cosmos. The same runs are checked to
have filled the run history (tests/e2e/history_checks.py).

The example runs under dag.test() in a child process whose OpenLineage HTTP transport
points at a receiver in this process (127.0.0.1); the child also reports the DAG's
inlets/outlets and the Asset events of the run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.dag_test_child import run_in_child
from tests.e2e.history_checks import assert_cost_is_the_hand_calculation, assert_run_recorded
from tests.warehouses import Warehouse

RENDERINGS = {
    "stage": "",
    "cosmos": ", render_config=RenderConfig(dbt_execution=DbtExecution.PER_MODEL)",
}


@pytest.fixture
def lineage_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(URL, events received): a minimal OpenLineage HTTP endpoint (answers 200, as the
    OpenLineage client expects; the alerts' webhook answers 204)."""
    events: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            events.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", events
    server.shutdown()


def _run_with_lineage(project: Path, dag_id: str, rendering: str, url: str, tmp_path: Path) -> dict[str, Any]:
    source = (
        "from airflow_provider_dualengine import DbtExecution, RenderConfig, build_dag\n"
        f"dag = build_dag({str(project)!r}, dag_id={dag_id!r}{RENDERINGS[rendering]})\n"
    )
    env = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "http", "url": url}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "dualengine_tests",
    }
    return run_in_child(source, dag_id, env, tmp_path / "airflow_view.json")


def _task_id(graph: Any, key: tuple[Any, str], rendering: str) -> str:
    """The task that writes a model (its OpenLineage job and Asset producer)."""
    from airflow_provider_dualengine.engines.sqlmesh.names import task_id_for
    from airflow_provider_dualengine.graph import Engine

    engine, name = key
    stage = graph.placement()[key]
    if engine is Engine.SQLMESH:
        return f"{stage}.sqlmesh.{task_id_for(name)}"
    return f"{stage}.dbt.{name}" + (".run" if rendering == "cosmos" else "")


def _lineage_by_task(events: list[dict[str, Any]], dag_id: str) -> dict[str, dict[str, Any]]:
    """task id -> inputs and outputs {(namespace, name): dataset} of its COMPLETE event."""
    found = {}
    for event in events:
        job = event["job"]["name"]
        if event.get("eventType") == "COMPLETE" and job.startswith(f"{dag_id}."):
            found[job.removeprefix(f"{dag_id}.")] = {
                side: {(d["namespace"], d["name"]): d for d in event.get(side, [])} for side in ("inputs", "outputs")
            }
    return found


@pytest.mark.e2e
@pytest.mark.parametrize("rendering", list(RENDERINGS))
def test_every_edge_joins_in_openlineage_and_in_assets(
    shop: Path, warehouse: Warehouse, rendering: str, lineage_receiver, tmp_path: Path
) -> None:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project
    from airflow_provider_dualengine.graph import Engine, build_graph

    project = load_project(shop)
    compile_project(project)
    graph = build_graph(load_project(shop))
    url, events = lineage_receiver
    dag_id = f"lineage_{warehouse.kind}_{rendering}"
    airflow = _run_with_lineage(shop, dag_id, rendering, url, tmp_path)
    assert airflow["state"] == "success", airflow["task_states"]
    lineage = _lineage_by_task(events, dag_id)
    # the same run filled the run history of both engines
    assert_run_recorded(warehouse, graph, dag_id, airflow["run_id"], cosmos=rendering == "cosmos")
    assert_cost_is_the_hand_calculation(shop, warehouse, airflow["run_id"])

    if warehouse.kind == "duckdb":
        namespace, database = f"duckdb://{warehouse.connection['host']}", "shop"
    else:
        c = warehouse.connection
        namespace, database = f"postgres://{c['host']}:{c['port']}", c["schema"]
    edges = list(graph.models_graph.edges)
    kinds = {e.via for e in edges if e.upstream[0] is not e.downstream[0]}
    assert kinds == {"source", "ref", "table"}  # every kind of cross-engine edge is in the example
    assert any(e.upstream[0] is e.downstream[0] for e in edges)  # and same-engine edges
    joined = []
    for edge in edges:
        producer, consumer = _task_id(graph, edge.upstream, rendering), _task_id(graph, edge.downstream, rendering)
        [output] = lineage[producer]["outputs"]
        assert output[0] == namespace and output[1].startswith(f"{database}."), (edge, output)
        assert output in lineage[consumer]["inputs"], (edge, output, sorted(lineage[consumer]["inputs"]))
        [uri] = airflow["tasks"][producer]["outlets"]
        assert uri in airflow["tasks"][consumer]["inlets"], (edge, uri, airflow["tasks"][consumer]["inlets"])
        assert [uri, producer] in airflow["asset_events"], (edge, uri)
        joined.append((edge.via, output[1]))
    # the cross-engine ref(): dbt's customer_value reads SQLMesh's lifetime view of this environment
    assert ("ref", f"{database}.intermediate__dev.customer_lifetime") in joined

    # the seeds: SQLMesh's seed models and the external-input sensor name the same CSV files
    for model in ("raw.raw_customers", "raw.raw_orders"):
        task = _task_id(graph, (Engine.SQLMESH, model), rendering)
        csv = str((shop / "sqlmesh" / "seeds" / f"{model.split('_')[-1]}.csv").resolve())
        assert ("file", csv) in lineage[task]["inputs"] and ("file", csv) in lineage["source_data"]["inputs"]
        assert f"file://{csv}" in airflow["tasks"][task]["inlets"]
        assert f"file://{csv}" in airflow["tasks"]["source_data"]["inlets"]

    if rendering == "stage":  # our dbt tasks type every column (declared, else inferred from the SQL)
        for model in graph.models(Engine.DBT):
            [output] = lineage[_task_id(graph, (Engine.DBT, model.name), rendering)]["outputs"].values()
            fields = {f["name"]: f.get("type") for f in output["facets"]["schema"]["fields"]}
            assert fields and all(fields.values()), (model.name, fields)
