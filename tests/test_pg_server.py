"""The test PostgreSQL server itself: password logins over TCP, isolated databases."""

from __future__ import annotations

import pytest

from tests.pg_server import PostgresServer

pytestmark = pytest.mark.slow


def test_password_login_over_tcp(postgres_server: PostgresServer) -> None:
    import psycopg2

    conn = psycopg2.connect(postgres_server.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("select current_user, inet_server_addr()::text, inet_server_port(), current_setting('fsync')")
            user, addr, port, fsync = cur.fetchone()
    finally:
        conn.close()
    assert user == postgres_server.user
    assert addr.split("/")[0] == "127.0.0.1"
    assert port == postgres_server.port
    assert fsync == "off"
    # the URL form works too (what SQLAlchemy / Airflow connection URIs use)
    conn = psycopg2.connect(postgres_server.url)
    conn.close()


def test_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    import psycopg2

    kwargs = {**postgres_server.connection_kwargs(), "password": "not-the-password"}
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(**kwargs, connect_timeout=5)


def test_created_databases_are_isolated(postgres_database: tuple[PostgresServer, str]) -> None:
    server, dbname = postgres_database
    other = server.create_database()
    try:
        with server.connect(dbname) as conn, conn.cursor() as cur:
            cur.execute("create table marker (id int)")
            cur.execute("insert into marker values (1)")
        conn.close()
        conn = server.connect(other)
        try:
            with conn.cursor() as cur:
                cur.execute("select current_database(), to_regclass('public.marker') is null")
                assert cur.fetchone() == (other, True)
        finally:
            conn.close()
        conn = server.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute("select count(*) from marker")
                assert cur.fetchone() == (1,)
        finally:
            conn.close()
    finally:
        server.drop_database(other)
