"""A throw-away PostgreSQL server for tests (no pytest needed to import this module).

    with PostgresServer() as pg:
        db = pg.create_database("shop_test")
        conn = pg.connect(db)            # psycopg2 connection, password login over TCP
        os.environ.update(pg.env(db))    # DUALENGINE_PG_HOST/PORT/USER/PASSWORD/DATABASE

The server is a private cluster: `initdb` into a fresh directory under /tmp, started
with `pg_ctl` on a free port bound to 127.0.0.1 only, durability switched off (fsync,
full_page_writes, synchronous_commit) because the data is discarded. TCP logins need
the password (md5 in pg_hba.conf); the unix socket (in the temp directory, mode 0700)
is trusted for the cluster's OS owner only. Stopping kills the server and deletes the
directory; an atexit hook does the same if the owner forgot.

PostgreSQL refuses to run as root: when this process is root, every server command
runs as the `postgres` OS user (override with `os_user=`), so the temp directory is
chowned to that user. Binaries are taken from PATH (`initdb`, `pg_ctl`), else from the
newest /usr/lib/postgresql/<version>/bin; `bin_dir=` or $DUALENGINE_PG_BIN overrides.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["PostgresServer", "PostgresServerError", "find_pg_bin_dir"]

_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_BIN_DIR_ENV = "DUALENGINE_PG_BIN"


class PostgresServerError(RuntimeError):
    """The test PostgreSQL server could not be found, initialised or started."""


def _version_key(path: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); /usr/lib/postgresql/9.6/bin -> (9, 6)
    version = Path(path).parent.name
    return tuple(int(p) for p in re.findall(r"\d+", version)) or (0,)


def _has_all(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in _REQUIRED_BINARIES)


def find_pg_bin_dir(bin_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding initdb, pg_ctl and postgres, or a PostgresServerError."""
    tried: list[str] = []
    explicit = bin_dir or os.environ.get(_BIN_DIR_ENV)
    if explicit:
        candidate = Path(explicit)
        if _has_all(candidate):
            return candidate
        raise PostgresServerError(
            f"PostgreSQL binaries {', '.join(_REQUIRED_BINARIES)} not found in {candidate} "
            f"(from {'bin_dir' if bin_dir else '$' + _BIN_DIR_ENV})."
        )
    on_path = shutil.which("initdb")
    if on_path:
        # Debian links /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb; the
        # real directory also has `postgres`, which pg_ctl looks for next to itself.
        candidate = Path(os.path.realpath(on_path)).parent
        tried.append(str(candidate))
        if _has_all(candidate):
            return candidate
    for candidate_str in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        tried.append(candidate_str)
        if _has_all(Path(candidate_str)):
            return Path(candidate_str)
    raise PostgresServerError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: not on PATH and "
        "not under /usr/lib/postgresql/*/bin"
        + (f" (looked in {', '.join(tried)})" if tried else "")
        + ". Install the server (Debian/Ubuntu: apt-get install postgresql-15) or set "
        f"${_BIN_DIR_ENV} to its bin directory."
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class PostgresServer:
    """A private PostgreSQL cluster for tests; use as a context manager or start()/stop().

    Args:
        user: superuser created by initdb (default "postgres").
        password: its password (default: random); TCP logins require it.
        port: TCP port (default: a free one, chosen at start).
        host: listen address (default "127.0.0.1"; nothing else is bound).
        bin_dir: directory with initdb/pg_ctl/postgres (default: see find_pg_bin_dir).
        os_user: OS user running the server when this process is root (default "postgres").
        start_timeout: seconds pg_ctl waits for the server to accept connections.
        settings: extra server settings, passed as `-c key=value`.

    Attributes (after start): host, port, user, password, dbname ("postgres"), dsn,
    url, base_dir, data_dir, socket_dir, log_file, bin_dir, startup_seconds.
    """

    def __init__(
        self,
        *,
        user: str = "postgres",
        password: str | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        bin_dir: str | os.PathLike[str] | None = None,
        os_user: str = "postgres",
        start_timeout: int = 30,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.user = user
        self.password = password or uuid.uuid4().hex
        self.host = host
        self.port: int | None = port
        self.dbname = "postgres"
        self._requested_port = port
        self._bin_dir_arg = bin_dir
        self.bin_dir: Path | None = None
        self.os_user = os_user
        self.start_timeout = start_timeout
        self.settings = dict(settings or {})
        self.base_dir: Path | None = None
        self.startup_seconds: float | None = None
        self._running = False
        self._atexit_registered = False

    # ------------------------------------------------------------------ paths
    @property
    def data_dir(self) -> Path:
        return self._base() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._base()

    @property
    def log_file(self) -> Path:
        return self._base() / "postgres.log"

    def _base(self) -> Path:
        if self.base_dir is None:
            raise PostgresServerError("PostgresServer is not started")
        return self.base_dir

    # --------------------------------------------------------------- connect
    @property
    def running(self) -> bool:
        return self._running

    def dsn_for(self, dbname: str | None = None) -> str:
        """libpq key/value DSN (psycopg2.connect(dsn))."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={dbname or self.dbname}"
        )

    @property
    def dsn(self) -> str:
        return self.dsn_for()

    def url_for(self, dbname: str | None = None) -> str:
        """postgresql:// URL (SQLAlchemy, Airflow connection URIs)."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname or self.dbname, safe='')}"
        )

    @property
    def url(self) -> str:
        return self.url_for()

    def connection_kwargs(self, dbname: str | None = None) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": dbname or self.dbname,
        }

    def env(self, dbname: str | None = None) -> dict[str, str]:
        """The DUALENGINE_PG_* variables read by the example project's postgres configs."""
        return {
            "DUALENGINE_PG_HOST": self.host,
            "DUALENGINE_PG_PORT": str(self.port),
            "DUALENGINE_PG_USER": self.user,
            "DUALENGINE_PG_PASSWORD": self.password,
            "DUALENGINE_PG_DATABASE": dbname or self.dbname,
        }

    def connect(self, dbname: str | None = None, *, autocommit: bool = False, **kwargs: Any):
        import psycopg2

        conn = psycopg2.connect(**{**self.connection_kwargs(dbname), "connect_timeout": 10, **kwargs})
        conn.autocommit = autocommit
        return conn

    def create_database(self, name: str | None = None) -> str:
        """CREATE DATABASE (quoted identifier); a unique name when none is given. Returns it."""
        from psycopg2 import sql

        name = name or f"test_{uuid.uuid4().hex[:12]}"
        conn = self.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            conn.close()
        return name

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS ... WITH (FORCE): open sessions are terminated."""
        from psycopg2 import sql

        conn = self.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        finally:
            conn.close()

    # -------------------------------------------------------------- lifecycle
    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_as(self) -> dict[str, Any]:
        """subprocess kwargs that drop root privileges to the server's OS user."""
        if os.geteuid() != 0:
            return {}
        try:
            pw = pwd.getpwnam(self.os_user)
        except KeyError:
            raise PostgresServerError(
                f"PostgreSQL refuses to run as root and OS user {self.os_user!r} does not exist; "
                f"create it (useradd --system {self.os_user}) or run the tests as a non-root user."
            ) from None
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        if os.geteuid() == 0:
            env["HOME"] = str(self._base())
        return env

    def _cmd(self, args: list[str], *, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            args,
            cwd=self._base(),  # the server user may not be able to enter the caller's cwd
            env=self._env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            **self._run_as(),
        )
        if check and proc.returncode != 0:
            raise PostgresServerError(
                f"{Path(args[0]).name} failed (exit {proc.returncode}): {args}\n"
                f"{proc.stdout}{proc.stderr}{self._log_tail()}"
            )
        return proc

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except (OSError, PostgresServerError):
            return ""
        return "\n--- server log (tail) ---\n" + "\n".join(text) if text else ""

    def start(self) -> PostgresServer:
        if self._running:
            return self
        t0 = time.monotonic()
        self.bin_dir = find_pg_bin_dir(self._bin_dir_arg)
        run_as = self._run_as()  # fail early on a missing OS user
        # Not tmp_path: /tmp/pytest-of-root is 0700, so the postgres user could not enter it.
        self.base_dir = Path(tempfile.mkdtemp(prefix="dualengine-pg-", dir="/tmp"))
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            if run_as:
                os.chown(self.base_dir, run_as["user"], run_as["group"])
            os.chmod(self.base_dir, 0o700)
            self._initdb(run_as)
            self._start_server()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _initdb(self, run_as: dict[str, Any]) -> None:
        pwfile = self._base() / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chmod(pwfile, 0o600)
        if run_as:
            os.chown(pwfile, run_as["user"], run_as["group"])
        try:
            self._cmd(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    f"--pwfile={pwfile}",
                    "--auth-host=md5",  # TCP: password required
                    "--auth-local=trust",  # unix socket (0700 dir/socket): the OS owner only
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _start_server(self) -> None:
        attempts = 1 if self._requested_port else 5
        for attempt in range(attempts):
            self.port = self._requested_port or _free_port(self.host)
            options = {
                "listen_addresses": self.host,
                "port": self.port,
                "unix_socket_directories": str(self.socket_dir),
                "unix_socket_permissions": "0700",
                "fsync": "off",
                "full_page_writes": "off",
                "synchronous_commit": "off",
                **self.settings,
            }
            opts = " ".join(f"-c {k}={v}" for k, v in options.items())
            proc = self._cmd(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(self.start_timeout),
                    "-o",
                    opts,
                    "start",
                ],
                check=False,
                timeout=self.start_timeout + 30,
            )
            if proc.returncode == 0:
                self._running = True
                return
            log = self._log_tail()
            port_taken = "could not bind" in log or "Address already in use" in log
            if port_taken and attempt + 1 < attempts:
                self._kill_leftover()
                continue  # someone grabbed the free port between probe and bind: retry
            raise PostgresServerError(
                f"pg_ctl start failed (exit {proc.returncode}) on {self.host}:{self.port}\n"
                f"{proc.stdout}{proc.stderr}{log}"
            )

    def _kill_leftover(self) -> None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (immediate mode: the data is discarded) and delete its directory."""
        base, self._running = self.base_dir, False
        if base is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists() and self.bin_dir is not None:
                try:
                    proc = self._cmd(
                        [
                            str(self.bin_dir / "pg_ctl"),
                            "-D",
                            str(self.data_dir),
                            "-m",
                            "immediate",
                            "-w",
                            "-t",
                            "10",
                            "stop",
                        ],
                        check=False,
                        timeout=30,
                    )
                    if proc.returncode != 0:
                        self._kill_leftover()
                except (subprocess.TimeoutExpired, OSError):
                    self._kill_leftover()
        finally:
            shutil.rmtree(base, ignore_errors=True)
            self.base_dir = None
            if self._atexit_registered:
                atexit.unregister(self.stop)
                self._atexit_registered = False

    def __repr__(self) -> str:
        state = f"{self.host}:{self.port}" if self._running else "stopped"
        return f"<PostgresServer {state} user={self.user}>"
