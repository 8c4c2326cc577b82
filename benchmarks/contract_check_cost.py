"""What enforcing a contract at run time costs: `check_contract` on a 1-million-row table.

    .venv/bin/python benchmarks/contract_check_cost.py [--rows 1000000] [--runs 5] [--no-postgres]

The table has the example contract's shape (transforms/shared/schemas/customer_enhanced.yml:
customer_id unique + not_null, customer_tier not_null + accepted_values, customer_score
not_null + check). Measured twice per warehouse: a clean table (every check passes, the
usual case) and a dirty one (1% of rows break each constraint, so sample queries run too).
Every statement the check issues is recorded with its time. PostgreSQL runs on the
throw-away server the tests use (tests/pg_server.py). Writes
benchmarks/results/contract_check_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_provider_dualengine.config.contracts import ContractModel, load_contract_file  # noqa: E402
from airflow_provider_dualengine.contracts.runtime import check_contract  # noqa: E402
from airflow_provider_dualengine.hooks.warehouse import Warehouse  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONTRACT_FILE = REPO / "transforms" / "shared" / "schemas" / "customer_enhanced.yml"
TARGET = REPO / "benchmarks" / "results" / "contract_check_cost.json"
DDL = "CREATE TABLE staging.customer_enhanced (customer_id integer, customer_name text, customer_tier text, customer_score double precision)"


class RecordingCursor:
    """A DB-API cursor that notes every statement and its wall time."""

    def __init__(self, cursor: Any):
        self._cursor = cursor
        self.log: list[dict[str, Any]] = []

    def execute(self, sql: str, params: Any = None) -> Any:
        began = time.perf_counter()
        result = self._cursor.execute(sql, params) if params else self._cursor.execute(sql)
        self.log.append(
            {"sql": sql, "params": list(params) if params else None, "s": round(time.perf_counter() - began, 4)}
        )
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def populate_sql(rows: int, dirty: bool, series: str) -> str:
    """Rows i = 1..n; when dirty, i % 100 == 0 repeats an id, nulls the tier, scores 150,
    and i % 100 == 1 has tier 'platinum'."""
    bad = "i % 100 = 0" if dirty else "false"
    odd = "i % 100 = 1" if dirty else "false"
    return (
        "INSERT INTO staging.customer_enhanced SELECT"
        f" CASE WHEN {bad} THEN i - 1 ELSE i END,"
        " 'customer ' || i,"
        f" CASE WHEN {bad} THEN NULL WHEN {odd} THEN 'platinum' WHEN i % 3 = 0 THEN 'bronze' WHEN i % 3 = 1 THEN 'silver' ELSE 'gold' END,"
        f" CASE WHEN {bad} THEN 150 ELSE i % 101 END"
        f" FROM {series}"
    )


def measure(
    connect: Callable[[], AbstractContextManager[Any]], dialect: str, contract: ContractModel, runs: int
) -> dict[str, Any]:
    """Median wall time of `check_contract` over `runs`, each on a fresh cursor; queries of the last run."""
    times, last, report = [], None, None
    for _ in range(runs):
        with connect() as cursor:
            recording = RecordingCursor(cursor)
            began = time.perf_counter()
            report = check_contract(
                Warehouse(recording, dialect), "staging", "customer_enhanced", contract, datetime.now(UTC)
            )
            times.append(time.perf_counter() - began)
            last = recording.log
    assert report is not None and last is not None
    return {
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "runs_s": [round(t, 4) for t in times],
        "passed": report.passed,
        "failed_checks": [f"{r.check} {r.column}: {r.message}" for r in report.failures],
        "statements": len(last),
        "queries": last,
    }


def baseline(connect: Callable[[], AbstractContextManager[Any]]) -> float:
    """One full scan, for scale: the cheapest question one can ask the table."""
    with connect() as cursor:
        began = time.perf_counter()
        cursor.execute("SELECT count(*), max(customer_score) FROM staging.customer_enhanced")
        cursor.fetchall()
        return round(time.perf_counter() - began, 4)


def duckdb_case(work: Path, rows: int, dirty: bool, contract: ContractModel, runs: int) -> dict[str, Any]:
    import duckdb

    path = work / f"{'dirty' if dirty else 'clean'}.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE SCHEMA staging")
        db.execute(DDL)
        db.execute(populate_sql(rows, dirty, f"range(1, {rows + 1}) AS t(i)"))

    @contextmanager
    def connect():
        db = duckdb.connect(str(path))
        try:
            yield db.cursor()
        finally:
            db.close()

    return {**measure(connect, "duckdb", contract, runs), "baseline_scan_s": baseline(connect)}


def postgres_case(server: Any, rows: int, dirty: bool, contract: ContractModel, runs: int) -> dict[str, Any]:
    dbname = server.create_database()
    setup = server.connect(dbname, autocommit=True)
    try:
        with setup.cursor() as cur:
            for sql in (
                "CREATE SCHEMA staging",
                DDL,
                populate_sql(rows, dirty, f"generate_series(1, {rows}) AS t(i)"),
                "VACUUM ANALYZE staging.customer_enhanced",
            ):
                cur.execute(sql)
    finally:
        setup.close()

    @contextmanager
    def connect():
        db = server.connect(dbname)
        try:
            yield db.cursor()
        finally:
            db.close()

    try:
        return {**measure(connect, "postgres", contract, runs), "baseline_scan_s": baseline(connect)}
    finally:
        server.drop_database(dbname)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    contracts, issues = load_contract_file(CONTRACT_FILE)
    assert not issues, issues
    contract = contracts[0].model
    results: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        },
        "rows": args.rows,
        "runs": args.runs,
        "contract": str(CONTRACT_FILE.relative_to(REPO)),
    }
    with tempfile.TemporaryDirectory(prefix="contract-cost-") as work:
        results["duckdb"] = {
            case: duckdb_case(Path(work), args.rows, case == "dirty", contract, args.runs)
            for case in ("clean", "dirty")
        }
    if not args.no_postgres:
        from tests.pg_server import PostgresServer

        with PostgresServer() as server:
            results["postgres"] = {
                case: postgres_case(server, args.rows, case == "dirty", contract, args.runs)
                for case in ("clean", "dirty")
            }
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(results, indent=2) + "\n")
    for engine in ("duckdb", "postgres"):
        for case, data in results.get(engine, {}).items():
            print(
                f"{engine:9} {case:6} median {data['median_s']:.3f} s (min {data['min_s']:.3f}), {data['statements']} statements, one full scan {data['baseline_scan_s']:.3f} s"
            )


if __name__ == "__main__":
    main()
