"""Operating a real cluster while it works: the CLI during a pipeline run, two deployments at once.

On the package's cluster (conftest.py: CeleryExecutor, PostgreSQL metadata DB, Redis,
one process per component), which carries this module's extra checkouts and deploy DAGs:

A. The example DAG runs while an operator calls `dualengine deployments` ten times, a
   second apart - the package's `example_run`, the same run test_cluster.py checks: the
   CLI opens the DuckDB file read-only for milliseconds and waits while a task holds it,
   so every call answers (exit 0) or says the file is busy (exit 3), and the pipeline
   succeeds; a task that met the CLI's lock retries (counted in the report).
B. Two deploy DAGs of one environment from two checkouts (`deploy_v1` on the project,
   `deploy_v2` on a copy whose dbt value bands start at 500 instead of 1000 and whose SQLMesh
   summary is redefined) triggered back to back: the environment's deployment lease lets
   one deploy and refuses the other at `prepare` (no retry, nothing recorded); prod is the
   winner's code; the refused one, triggered again, deploys. On a DuckDB warehouse (the
   writer pool serialises the two; when test_cluster.py ran first, its deployment of the
   same environment is already recorded there, and the race adds its records after it) and
   on PostgreSQL (database `shop` on the metadata DB's server; the two `prepare`s race in
   parallel).

Cost on 2 cores: see the package's "cluster test cost" lines.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.cluster import AirflowCluster, DagRunResult
from tests.cluster.report import terminal_writer as _reporter
from tests.e2e.on_cluster.conftest import (
    ENVIRONMENT,
    PG_DATABASE,
    SIDES,
    ExampleRun,
    Side,
    ensure_duckdb_connection,
    ensure_postgres_connection,
)

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.timeout(2400)]

EXIT_BUSY = 3
NO_RECORDS = f"no deployments of '{ENVIRONMENT}' recorded yet"
# dbt's customer_value: lifetime value from which a customer is 'high', per code version
HIGH_FROM = {"v1": 1000, "v2": 500}
FINAL_OK = {"success", "skipped"}


# --------------------------------------------------------------------------- reporting


def not_ok(run: DagRunResult) -> dict[str, str | None]:
    return {t: s for t, s in run.states.items() if s not in FINAL_OK}


# --------------------------------------------------------------------------- A. the CLI during a run


def test_pipeline_succeeds_while_the_operator_lists_deployments(
    cluster: AirflowCluster, example_run: ExampleRun, request: pytest.FixtureRequest
) -> None:
    run, calls = example_run.run, example_run.cli_calls
    retried = {t.task_id: t.try_number for t in run.tasks if t.try_number > 1}
    earlier = {
        task_id: [cluster.task_log(run.dag_id, run.run_id, task_id, n) for n in range(1, tries)]
        for task_id, tries in retried.items()
    }
    busy = [c for c in calls if c.exit_code == EXIT_BUSY]
    during = [c for c in calls if c.run_state_after not in ("success", "failed")]
    _reporter(request)(
        f"\nA. {run.summary()}\n"
        f"   `dualengine deployments` x{len(calls)}: {len(calls) - len(busy)} answered, {len(busy)} busy (exit 3), "
        f"{len(during)} returned while the run was still going; seconds per call: "
        + ", ".join(f"{c.seconds:.1f}" for c in calls)
        + f"\n   task retries (try_number > 1): {len(retried)} {retried or ''}"
        + "".join(f"\n     {task_id}: {first_lock_line(logs)}" for task_id, logs in earlier.items())
    )
    assert run.state == "success" and not not_ok(run), (
        f"{run.summary()}\nnot success/skipped: {not_ok(run)}\n{cluster.diagnostics(run)}"
    )
    assert during, "every CLI call returned after the run had ended: the test overlapped nothing"
    for number, call in enumerate(calls, 1):
        described = (
            f"call {number}: exit {call.exit_code}\nstdout: {call.stdout[-2000:]}\nstderr: {call.stderr[-3000:]}"
        )
        assert call.exit_code in (0, EXIT_BUSY), described
        if call.exit_code == 0:
            lines = call.stdout.strip().splitlines()
            assert lines == [NO_RECORDS] or (lines and lines[0].startswith(f"{ENVIRONMENT}-")), described
        else:
            assert call.stderr.startswith("error: "), described
            assert "is busy" in call.stderr and str(cluster.warehouse) in call.stderr, described
    # a retry is only ever a transient lock: a model failure fails at once (and the run succeeded)
    for task_id, logs in earlier.items():
        assert all("lock" in log.lower() for log in logs), (
            f"{task_id} was retried ({retried[task_id]} tries) for something other than a busy warehouse:\n"
            + "\n".join(log[-3000:] for log in logs)
        )


def first_lock_line(logs: list[str]) -> str:
    """The first log line of the earlier tries that mentions a lock (names its holder's PID)."""
    lines = [line for log in logs for line in log.splitlines() if "lock" in line.lower()]
    if not lines:
        return "(no lock mentioned in the earlier tries' logs)"
    try:
        return str(json.loads(lines[0]).get("event", lines[0]))[:400]
    except ValueError:
        return lines[0][:400]


# --------------------------------------------------------------------------- B. two deployments at once


def warehouse_rows(cluster: AirflowCluster, kind: str, queries: dict[str, str]) -> dict[str, list[list[Any]]]:
    """Rows of each query from the side's warehouse (DuckDB read-only, or the PostgreSQL database)."""
    if kind == "duckdb":
        return cluster.warehouse_query(queries)
    db = cluster.postgres.connect(PG_DATABASE, autocommit=True)
    try:
        with db.cursor() as cursor:
            found = {}
            for name, sql in queries.items():
                cursor.execute(sql)
                found[name] = [list(row) for row in cursor.fetchall()]
            return found
    finally:
        db.close()


RECORDS_TABLE = """
    SELECT count(*) FROM information_schema.tables
    WHERE table_schema = 'dualengine' AND table_name = 'deployments'"""
PROD_QUERIES = {
    "records": "SELECT id, status, details FROM dualengine.deployments ORDER BY started_at",
    "leases": "SELECT environment, holder, owner FROM dualengine.deployment_leases",
    "bands": f"""
        SELECT count(*) FILTER (WHERE value_band = 'high'),
               count(*) FILTER (WHERE lifetime_value >= {HIGH_FROM["v1"]}),
               count(*) FILTER (WHERE lifetime_value >= {HIGH_FROM["v2"]}),
               count(*)
        FROM analytics.customer_value""",
    # the SQLMesh model downstream of the dbt mart, in prod
    "summary": "SELECT value_band, customers FROM reporting.value_band_summary ORDER BY 1",
    "mart_bands": "SELECT value_band, count(*) FROM analytics.customer_value GROUP BY 1 ORDER BY 1",
}


def recorded(cluster: AirflowCluster, kind: str) -> list[tuple[str, str]]:
    """(id, status) of the deployments recorded in the side's warehouse, oldest first."""
    if warehouse_rows(cluster, kind, {"table": RECORDS_TABLE})["table"] != [[1]]:
        return []  # nothing ever deployed there
    return [(i, s) for i, s, _ in warehouse_rows(cluster, kind, {"records": PROD_QUERIES["records"]})["records"]]


def records_since(prod: dict[str, list[list[Any]]], earlier: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(id, status) of the records added after `earlier`, which must be untouched."""
    records = [(i, s) for i, s, _ in prod["records"]]
    assert records[: len(earlier)] == earlier, f"earlier records changed: {earlier} -> {records}"
    return records[len(earlier) :]


@dataclass
class Race:
    side: Side
    runs: dict[str, DagRunResult]  # version -> its run
    prod: dict[str, list[list[Any]]]
    earlier: list[tuple[str, str]]  # the records there before the race (test_cluster.py's deployment)

    @property
    def winner(self) -> str:
        """The version whose run succeeded ("(none)" unless exactly one did)."""
        won = [v for v, r in self.runs.items() if r.state == "success"]
        return won[0] if len(won) == 1 else "(none)"

    @property
    def loser(self) -> str:
        return self.side.other(self.winner)


def describe(cluster: AirflowCluster, runs: dict[str, DagRunResult]) -> str:
    return "\n".join(
        f"{v}: {r.table()}\n{cluster.diagnostics(r) if r.state != 'success' else ''}" for v, r in runs.items()
    )


def xcom_text(cluster: AirflowCluster, run: DagRunResult, task_id: str, key: str) -> str | None:
    """An XCom string (the API may hand it back JSON-encoded)."""
    value = cluster.xcom(run.dag_id, run.run_id, task_id, key)
    if isinstance(value, str) and value.startswith('"'):
        value = json.loads(value)
    return value


@pytest.fixture(scope="module", params=sorted(SIDES))
def race(cluster: AirflowCluster, example_run: ExampleRun, request: pytest.FixtureRequest) -> Race:
    """Both deploy DAGs of the side triggered back to back (after scenario A: one run at a time
    on the DuckDB file), both waited for, then prod read. Both warehouse connections exist
    from the first side on, so the PostgreSQL side's DAG files are parsed by its turn."""
    ensure_duckdb_connection(cluster)
    ensure_postgres_connection(cluster)
    side = SIDES[request.param]
    earlier = recorded(cluster, side.kind)
    for dag_id in side.dags.values():
        cluster.wait_for_dag(dag_id)
        cluster.unpause(dag_id)
    with cluster.timed(f"B[{side.kind}]. deploy_v1 + deploy_v2 triggered at once, both ended"):
        began = time.monotonic()
        run_ids = {version: cluster.trigger(dag_id) for version, dag_id in side.dags.items()}
        runs = {v: cluster.wait_for_run(side.dags[v], run_ids[v], timeout=1200, began=began) for v in run_ids}
    deployed = any(r.state == "success" for r in runs.values())
    race = Race(side, runs, warehouse_rows(cluster, side.kind, PROD_QUERIES) if deployed else {}, earlier)
    _reporter(request)(
        f"\nB[{side.kind}] race: "
        + "; ".join(f"{v}: {r.summary()}" for v, r in runs.items())
        + f"\n   winner {race.winner}"
    )
    return race


def test_one_deployment_wins_and_the_other_is_refused_at_prepare(cluster: AirflowCluster, race: Race) -> None:
    assert sorted(r.state for r in race.runs.values()) == ["failed", "success"], describe(cluster, race.runs)
    winner, loser = race.runs[race.winner], race.runs[race.loser]
    assert not not_ok(winner), describe(cluster, race.runs)
    tries = {t.task_id: (t.state, t.try_number) for t in loser.tasks}
    assert tries["prepare"] == ("failed", 1), tries  # refused at once, never retried
    assert tries["conclude"][0] == "failed", tries
    assert {state for task, (state, _) in tries.items() if task not in ("prepare", "conclude")} == {
        "upstream_failed"
    }, tries

    winner_id = xcom_text(cluster, winner, "prepare", "deployment_id")
    reason = xcom_text(cluster, loser, "prepare", "blocked_reason")
    assert winner_id and winner_id.startswith(f"{ENVIRONMENT}-"), winner_id
    expected = (
        f"another deployment of '{ENVIRONMENT}' is in progress: {winner_id} (run by {winner.dag_id}/{winner.run_id}, "
    )
    assert reason and reason.startswith(expected), f"blocked_reason: {reason!r}\nexpected to start: {expected!r}"
    assert xcom_text(cluster, loser, "prepare", "deployment_id") is None
    conclude_log = cluster.task_log(loser.dag_id, loser.run_id, "conclude")
    assert (
        f"the deployment never started: another deployment of '{ENVIRONMENT}' is in progress: {winner_id}"
        in conclude_log
    ), conclude_log[-4000:]


def prod_high_from(prod: dict[str, list[list[Any]]]) -> dict[str, int]:
    """'high' rows in prod, and the rows each version's threshold makes 'high'."""
    [[high, from_v1, from_v2, total]] = prod["bands"]
    assert total == 50 and from_v1 != from_v2, prod["bands"]  # the two versions are told apart
    return {"high": high, "v1": from_v1, "v2": from_v2}


def assert_prod_follows(prod: dict[str, list[list[Any]]], version: str) -> None:
    counts = prod_high_from(prod)
    assert counts["high"] == counts[version], (
        f"prod's 'high' rows {counts}: expected {version}'s threshold {HIGH_FROM[version]}"
    )
    # both engines: the SQLMesh summary in prod reads the dbt mart deployed with it
    assert prod["summary"] == prod["mart_bands"], (prod["summary"], prod["mart_bands"])


def test_prod_and_the_record_are_the_winners(cluster: AirflowCluster, race: Race) -> None:
    assert race.prod, describe(cluster, race.runs)
    winner_id = xcom_text(cluster, race.runs[race.winner], "prepare", "deployment_id")
    assert records_since(race.prod, race.earlier) == [(winner_id, "succeeded")], race.prod["records"]
    assert race.prod["leases"] == [], race.prod["leases"]
    assert_prod_follows(race.prod, race.winner)


@dataclass
class Redeploy:
    race: Race
    run: DagRunResult
    prod: dict[str, list[list[Any]]]


@pytest.fixture(scope="module")
def redeploy(cluster: AirflowCluster, race: Race, request: pytest.FixtureRequest) -> Redeploy:
    """The refused DAG triggered again, now that the winner has concluded."""
    if race.winner not in race.runs:
        pytest.fail(f"no deployment won the race:\n{describe(cluster, race.runs)}")
    dag_id = race.side.dags[race.loser]
    with cluster.timed(f"B[{race.side.kind}]. the refused {dag_id} triggered again"):
        run = cluster.run_dag(dag_id, timeout=1200)
    _reporter(request)(f"\nB[{race.side.kind}] again: {run.summary()}")
    prod = warehouse_rows(cluster, race.side.kind, PROD_QUERIES) if run.state == "success" else {}
    return Redeploy(race, run, prod)


def test_the_refused_deployment_deploys_when_triggered_again(cluster: AirflowCluster, redeploy: Redeploy) -> None:
    run, race = redeploy.run, redeploy.race
    assert run.state == "success" and not not_ok(run), describe(cluster, {race.loser: run})
    assert {t.task_id: t.try_number for t in run.tasks}["prepare"] == 1
    first = xcom_text(cluster, race.runs[race.winner], "prepare", "deployment_id")
    second = xcom_text(cluster, run, "prepare", "deployment_id")
    records = records_since(redeploy.prod, race.earlier)
    assert records == [(first, "succeeded"), (second, "succeeded")], records
    assert redeploy.prod["leases"] == [], redeploy.prod["leases"]
    assert_prod_follows(redeploy.prod, race.loser)
