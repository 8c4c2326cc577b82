"""The two real warehouses the end-to-end tests run against, behind one small interface."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Warehouse:
    kind: str  # "duckdb" or "postgres"
    connection: dict[str, Any]  # Airflow connection as JSON (AIRFLOW_CONN_* value)

    def query(self, sql: str) -> list[tuple]:
        if self.kind == "duckdb":
            import duckdb

            with duckdb.connect(self.connection["host"]) as db:
                return db.execute(sql).fetchall()
        import psycopg2

        c = self.connection
        with (
            psycopg2.connect(
                host=c["host"], port=c["port"], user=c["login"], password=c["password"], dbname=c["schema"]
            ) as db,
            db.cursor() as cur,
        ):
            cur.execute(sql)
            return cur.fetchall()

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]

    def views(self) -> set[str]:
        return (
            {
                f"{s}.{t}"
                for s, t in self.query(
                    "SELECT table_schema, table_name FROM information_schema.views WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            }
            if self.kind == "postgres"
            else {
                f"{s}.{t}"
                for s, t in self.query(
                    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'VIEW'"
                )
            }
        )

    def schemas(self) -> set[str]:
        return {r[0] for r in self.query("SELECT schema_name FROM information_schema.schemata")}

    def physical_tables(self) -> set[str]:
        """SQLMesh's versioned tables (schemas sqlmesh__<schema>)."""
        return {
            f"{s}.{t}"
            for s, t in self.query(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema LIKE 'sqlmesh__%' AND table_type <> 'VIEW'"
            )
        }

    def checksum(self, relation: str) -> tuple:
        """Row count and an order-independent digest of every row."""
        rows = sorted(map(repr, self.query(f"SELECT * FROM {relation}")))
        return len(rows), hash(tuple(rows))

    def env_json(self) -> str:
        return json.dumps(self.connection)


def duckdb_warehouse(path: Path) -> Warehouse:
    path.parent.mkdir(parents=True, exist_ok=True)
    return Warehouse("duckdb", {"conn_type": "duckdb", "host": str(path)})


def postgres_warehouse(server: Any, dbname: str) -> Warehouse:
    return Warehouse(
        "postgres",
        {
            "conn_type": "postgres",
            "host": server.host,
            "port": server.port,
            "login": server.user,
            "password": server.password,
            "schema": dbname,
        },
    )
