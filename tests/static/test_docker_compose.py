"""Static checks of docker-compose.yaml (the image itself: tests/static/test_docker_image.py).

No Docker engine is needed: the file is parsed and its properties asserted. The small
helpers below mimic the parts of Compose that matter here (variable interpolation,
volume syntax), so a mistake that `docker compose up` would only reveal at run time
fails here instead.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"

LONG_RUNNING_AIRFLOW = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
)
AIRFLOW_SERVICES = (*LONG_RUNNING_AIRFLOW, "airflow-init", "airflow-cli")
BACKING_SERVICES = ("postgres", "redis")
REQUIRED_SERVICES = (*BACKING_SERVICES, *AIRFLOW_SERVICES)
# Services that parse or run the project: they need the DAGs and the transforms.
PROJECT_SERVICES = ("airflow-worker", "airflow-scheduler", "airflow-dag-processor")

DAGS_TARGET = "/opt/airflow/dags"
TRANSFORMS_TARGET = "/opt/airflow/transforms"
# Bind-mount sources that Docker / the user may create at run time.
ALLOWED_MISSING_BIND_SOURCES = {"logs", "config"}

# The only literal defaults a secret may fall back to (documented in the compose header).
DOCUMENTED_SECRET_DEFAULTS = {
    "POSTGRES_PASSWORD": "airflow",
    "AIRFLOW_FERNET_KEY": "",
    "_AIRFLOW_WWW_USER_PASSWORD": "",
}
# Secrets that must be supplied (`${VAR:?message}`), never defaulted.
REQUIRED_SECRETS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY",
}
SECRET_KEY_PATTERN = re.compile(r"SECRET|PASSWORD|PASSWD|FERNET|TOKEN|_KEY$")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"

# --------------------------------------------------------------------------- helpers

# `$$` escape, `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?err}`, `${NAME?err}`, `$NAME`.
_COMPOSE_VAR = re.compile(
    r"\$(?:(?P<escape>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_SINGLE_VAR = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}$")


class MissingRequiredVariable(LookupError):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """Resolve a string the way Compose does when it reads the file."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escape"):
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        current = env.get(name)
        unset_or_empty = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else current
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingRequiredVariable(f"{name}: {arg}")
            return current
        return current or ""

    return _COMPOSE_VAR.sub(replace, value)


def compose_variables(value: str) -> list[re.Match[str]]:
    """Compose-level variable references in a string (escaped `$$` excluded)."""
    return [m for m in _COMPOSE_VAR.finditer(value) if not m.group("escape")]


def iter_strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from iter_strings(key)
            yield from iter_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_strings(item)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else "\n".join(str(part) for part in command)


def healthcheck_text(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(str(part) for part in test)


def parse_volumes(service: dict) -> list[dict[str, str]]:
    """Normalise short (`src:target[:mode]`) and long volume syntax to dicts."""
    parsed = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = str(volume.get("source", "")), str(volume["target"])
            kind = volume.get("type") or ("bind" if source[:1] in (".", "/", "~") else "volume")
        else:
            parts = str(volume).split(":")
            source, target = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
            kind = "bind" if source[:1] in (".", "/", "~") else "volume"
        parsed.append({"type": kind, "source": source, "target": target})
    return parsed


def mount_source(service: dict, target: str) -> dict[str, str] | None:
    for volume in parse_volumes(service):
        if volume["target"].rstrip("/") == target.rstrip("/"):
            return volume
    return None


def parse_duration(value: Any) -> float:
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    text = str(value).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Compose duration: {value!r}")
    return sum(float(n) * units[u] for n, u in parts)


def init_script(compose: dict) -> str:
    """The bash script airflow-init runs, as the container's shell will see it."""
    command = compose["services"]["airflow-init"]["command"]
    assert isinstance(command, list) and command[:2] == ["bash", "-c"], (
        f"airflow-init should run `bash -c <script>`, got {command!r}"
    )
    assert len(command) == 3, "airflow-init: the whole script must be the single argument of bash -c"
    return command[2]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def compose() -> dict:
    assert COMPOSE_FILE.is_file(), f"missing {COMPOSE_FILE}"
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


# --------------------------------------------------------------------------- services


def test_required_services_present(services: dict) -> None:
    missing = [name for name in REQUIRED_SERVICES if name not in services]
    assert not missing, f"services missing from docker-compose.yaml: {missing}"


def test_cli_service_is_debug_profile_only(services: dict) -> None:
    assert services["airflow-cli"].get("profiles") == ["debug"]
    for name in REQUIRED_SERVICES:
        if name != "airflow-cli":
            assert not services[name].get("profiles"), f"{name} must start by default"


@pytest.mark.parametrize("name", [*LONG_RUNNING_AIRFLOW, *BACKING_SERVICES])
def test_long_running_services_have_healthcheck(services: dict, name: str) -> None:
    healthcheck = services[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
    test = healthcheck.get("test")
    assert test and test not in (["NONE"], "NONE"), f"{name}: healthcheck.test is empty"
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: bad test {test!r}"
    assert parse_duration(healthcheck["interval"]) > 0, f"{name}: healthcheck.interval"
    assert int(healthcheck["retries"]) >= 1, f"{name}: healthcheck.retries"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("postgres", ["pg_isready"]),
        ("redis", ["redis-cli", "ping"]),
        ("airflow-apiserver", ["curl", "http://localhost:8080/api/v2/version"]),
        ("airflow-scheduler", ["curl", "http://localhost:8974/health"]),
        ("airflow-dag-processor", ["airflow jobs check", "--job-type DagProcessorJob", "--hostname"]),
        ("airflow-triggerer", ["airflow jobs check", "--job-type TriggererJob", "--hostname"]),
        ("airflow-worker", ["celery", "inspect ping", "celery@"]),
    ],
)
def test_healthcheck_probes_the_right_thing(services: dict, name: str, expected: list[str]) -> None:
    text = healthcheck_text(services[name])
    for fragment in expected:
        assert fragment in text, f"{name}: healthcheck {text!r} lacks {fragment!r}"


def test_hostname_in_healthchecks_is_left_to_the_container_shell(services: dict) -> None:
    """`$${HOSTNAME}` reaches the container as `${HOSTNAME}`; a single `$` would be
    replaced by Compose (with the host's value, or nothing) when the file is read."""
    checked = 0
    for name, service in services.items():
        if "healthcheck" not in service:
            continue
        text = healthcheck_text(service)
        if "HOSTNAME" not in text:
            continue
        checked += 1
        assert "${HOSTNAME}" in interpolate(text, {}), f"{name}: write $${{HOSTNAME}} in {text!r}"
        test = service["healthcheck"]["test"]
        assert isinstance(test, str) or test[0] == "CMD-SHELL", f"{name}: $HOSTNAME needs CMD-SHELL"
    assert checked >= 3, "worker, dag-processor and triggerer healthchecks should use the hostname"


def test_scheduler_health_server_enabled(services: dict) -> None:
    env = environment(services["airflow-scheduler"])
    assert env.get("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "").lower() == "true", (
        "the :8974/health healthcheck needs AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=true"
    )


def test_worker_warm_shutdown(services: dict) -> None:
    assert environment(services["airflow-worker"]).get("DUMB_INIT_SETSID") == "0"
    assert "celery worker" in command_text(services["airflow-worker"])


# --------------------------------------------------------------------------- executor


def test_executor_is_celery_with_broker_and_backend_in_this_file(services: dict) -> None:
    postgres_env = environment(services["postgres"])
    db_user = postgres_env["POSTGRES_USER"]
    db_name = postgres_env["POSTGRES_DB"]
    db_password = interpolate(postgres_env["POSTGRES_PASSWORD"], {})
    for name in AIRFLOW_SERVICES:
        env = {
            k: interpolate(v, {"AIRFLOW_JWT_SECRET": "x", "AIRFLOW_API_SECRET_KEY": "y"})
            for k, v in environment(services[name]).items()
        }
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", name

        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert broker.scheme == "redis", f"{name}: broker {broker.geturl()!r}"
        assert broker.hostname in services and "redis-server" not in broker.hostname
        assert services[broker.hostname].get("image", "").startswith("redis"), name
        assert (broker.port or 6379) == 6379

        for key, scheme in (
            ("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql"),
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql"),
        ):
            url = urlsplit(env[key])
            assert url.scheme.startswith(scheme), f"{name}: {key} scheme {url.scheme!r}"
            assert url.hostname in services, f"{name}: {key} host {url.hostname!r} is not a service"
            assert services[url.hostname].get("image", "").startswith("postgres"), f"{name}: {key}"
            assert (url.username, url.password, url.path.lstrip("/")) == (db_user, db_password, db_name), (
                f"{name}: {key} credentials/database do not match the postgres service"
            )


def test_airflow_services_share_the_common_environment(compose: dict, services: dict) -> None:
    """A service that overrides `environment` without merging the anchor loses the
    executor, the DB and the shared secrets: all components must agree on them."""
    common = environment(compose["x-airflow-common"])
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        assert key in common, f"x-airflow-common lacks {key}"
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        differing = {k for k, v in common.items() if env.get(k) != v}
        assert not differing, f"{name} does not carry the common environment: {sorted(differing)}"


# --------------------------------------------------------------------------- airflow-init


def test_init_runs_migrate_pool_and_compile_in_order(compose: dict) -> None:
    script = interpolate(init_script(compose), {})
    lines = [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines[0] == "set -euo pipefail", "airflow-init must fail fast: start with `set -euo pipefail`"

    def position(pattern: str) -> int:
        for index, line in enumerate(lines):
            if re.search(pattern, line):
                return index
        pytest.fail(f"airflow-init script lacks {pattern!r}")

    migrate = position(r"^airflow db migrate\b")
    connection = position(r"^airflow connections add dualengine_warehouse\b")
    pool = position(r'^airflow pools set dualengine_warehouse 1 "[^"]+"$')
    compile_ = position(r"^dualengine compile /opt/airflow/transforms$")
    assert migrate < connection < pool < compile_, (
        "order must be: db migrate, connections add, pools set, dualengine compile"
    )
    for line in lines:
        assert not re.search(r"\|\|\s*true\b", line), f"error swallowed in airflow-init: {line!r}"


def test_init_script_is_valid_bash_without_compose_interpolation(compose: dict) -> None:
    raw = init_script(compose)
    leaked = [m.group(0) for m in compose_variables(raw)]
    assert not leaked, f"Compose would interpolate {leaked} in the init script: escape them as $$"
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not available for the syntax check")
    check = subprocess.run([bash, "-n"], input=interpolate(raw, {}), text=True, capture_output=True)
    assert check.returncode == 0, check.stderr


def test_init_creates_user_only_for_fab(compose: dict) -> None:
    """`airflow users create` exists only with the FAB auth manager: it must sit in the
    then-branch of an `if` that tests for FabAuthManager."""
    open_ifs: list[list] = []  # [condition, in_else_branch]
    for line in interpolate(init_script(compose), {}).splitlines():
        stripped = line.strip()
        if re.match(r"^if\b", stripped):
            open_ifs.append([stripped, False])
        elif re.match(r"^(else|elif)\b", stripped) and open_ifs:
            open_ifs[-1][1] = True
        elif re.match(r"^fi\b", stripped) and open_ifs:
            open_ifs.pop()
        elif re.match(r"^airflow users create\b", stripped):
            assert open_ifs and "FabAuthManager" in open_ifs[-1][0] and not open_ifs[-1][1], (
                "`airflow users create` must be guarded by a FabAuthManager check"
            )
    assert not open_ifs, "unbalanced if/fi in the airflow-init script"


def test_init_runs_as_the_airflow_uid(compose: dict, services: dict) -> None:
    """It writes the dbt manifest into the bind-mounted ./transforms: as root, the
    worker (AIRFLOW_UID) could not overwrite it later."""
    common_user = compose["x-airflow-common"]["user"]
    assert common_user == "${AIRFLOW_UID:-50000}:0"
    assert services["airflow-init"].get("user", common_user) == common_user


@pytest.mark.parametrize("name", [n for n in AIRFLOW_SERVICES if n != "airflow-init"])
def test_airflow_services_wait_for_init(services: dict, name: str) -> None:
    depends_on = services[name].get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on must use the long form with conditions"
    assert depends_on.get("airflow-init", {}).get("condition") == "service_completed_successfully"
    for backing in BACKING_SERVICES:
        assert depends_on.get(backing, {}).get("condition") == "service_healthy", f"{name} -> {backing}"


def test_init_waits_for_healthy_backing_services(services: dict) -> None:
    depends_on = services["airflow-init"]["depends_on"]
    for backing in BACKING_SERVICES:
        assert depends_on[backing]["condition"] == "service_healthy"
    assert "airflow-init" not in depends_on
    assert services["airflow-init"].get("restart", "no") in ("no", False)


# --------------------------------------------------------------------------- image


def test_all_airflow_services_build_from_the_dockerfile(services: dict) -> None:
    for name in AIRFLOW_SERVICES:
        build = services[name].get("build")
        assert isinstance(build, dict), f"{name}: no build section"
        context = (COMPOSE_FILE.parent / build["context"]).resolve()
        assert context == REPO_ROOT, f"{name}: build context {context} is not the repo root"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE.resolve(), name


# --------------------------------------------------------------------------- volumes


def test_bind_mount_sources_exist(compose: dict, services: dict) -> None:
    missing = set()
    for name, service in services.items():
        for volume in parse_volumes(service):
            if volume["type"] == "bind":
                path = (COMPOSE_FILE.parent / volume["source"]).resolve()
                relative = path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)
                if not path.exists() and relative not in ALLOWED_MISSING_BIND_SOURCES:
                    missing.add(relative)
            elif volume["source"]:
                assert volume["source"] in (compose.get("volumes") or {}), (
                    f"{name}: named volume {volume['source']!r} is not declared at top level"
                )
    assert not missing, f"bind-mounted paths missing from the repo: {sorted(missing)}"


@pytest.mark.parametrize("name", PROJECT_SERVICES)
def test_project_folders_mounted(services: dict, name: str) -> None:
    for host, target in (("./dags", DAGS_TARGET), ("./transforms", TRANSFORMS_TARGET)):
        volume = mount_source(services[name], target)
        assert volume, f"{name}: nothing mounted at {target}"
        assert volume["type"] == "bind" and volume["source"].rstrip("/") == host, (name, volume)


def test_project_dir_env_matches_transforms_mount(services: dict) -> None:
    checked = 0
    for name, service in services.items():
        project_dir = environment(service).get("DUALENGINE_PROJECT_DIR")
        if project_dir is None:
            continue
        checked += 1
        targets = [v["target"] for v in parse_volumes(service) if v["source"].rstrip("/") == "./transforms"]
        assert targets == [project_dir], f"{name}: DUALENGINE_PROJECT_DIR={project_dir!r}, ./transforms -> {targets}"
    assert checked >= len(PROJECT_SERVICES), "DUALENGINE_PROJECT_DIR is not set on the Airflow services"


def _init_connection_add(compose: dict) -> list[str]:
    """The `airflow connections add dualengine_warehouse ...` line of airflow-init, as tokens."""
    for line in interpolate(init_script(compose), {}).splitlines():
        if line.strip().startswith("airflow connections add dualengine_warehouse"):
            return shlex.split(line)
    pytest.fail("airflow-init does not create the dualengine_warehouse connection")


def test_warehouse_connection_is_created_the_readme_way(compose: dict, services: dict) -> None:
    """README: `airflow connections add dualengine_warehouse --conn-type duckdb --conn-host
    <file>`, kept in the metadata DB (the UI shows and edits it; `dualengine deployments`
    finds it there). An AIRFLOW_CONN_ variable would shadow it: secrets and environment
    variables are searched before the metadata DB."""
    tokens = _init_connection_add(compose)
    options = dict(zip(tokens[4::2], tokens[5::2], strict=False))
    assert tokens[:4] == ["airflow", "connections", "add", "dualengine_warehouse"] and len(tokens) % 2 == 0, tokens
    assert set(options) == {"--conn-type", "--conn-host"}, tokens
    assert options["--conn-type"] == "duckdb"
    db_file = PurePosixPath(options["--conn-host"])
    assert db_file.is_absolute() and db_file.suffix == ".duckdb", db_file
    for name in ("airflow-worker", "airflow-init"):
        volume = mount_source(services[name], str(db_file.parent))
        assert volume and volume["type"] == "volume", (
            f"{name}: {db_file.parent} must be a named volume shared by worker and init, got {volume}"
        )
        assert volume["source"] in (compose.get("volumes") or {})
    for name, env in _env_blocks(compose):
        assert not [k for k in env if k.upper().startswith("AIRFLOW_CONN_DUALENGINE_WAREHOUSE")], (
            f"{name} shadows the connection"
        )


def test_init_keeps_an_existing_warehouse_connection(compose: dict) -> None:
    """A second `docker compose up` reruns airflow-init: `connections add` would exit 1 on an
    existing connection (and abort the script), so it is guarded by `connections get`."""
    script = [line.strip() for line in interpolate(init_script(compose), {}).splitlines()]
    add = next(i for i, line in enumerate(script) if line.startswith("airflow connections add dualengine_warehouse"))
    guard = [line for line in script[:add] if line.startswith("if ")][-1]
    assert re.fullmatch(r"if ! airflow connections get dualengine_warehouse\b.*; then", guard), guard


def test_cosmos_telemetry_is_off(compose: dict) -> None:
    assert environment(compose["x-airflow-common"]).get("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "").lower() == "false"


def test_single_worker_for_single_writer_duckdb(services: dict) -> None:
    worker = services["airflow-worker"]
    replicas = (worker.get("deploy") or {}).get("replicas", 1)
    assert int(worker.get("scale", replicas)) == 1, "DuckDB allows one writer: keep one worker"


# --------------------------------------------------------------------------- secrets


def _env_blocks(compose: dict):
    yield "x-airflow-common", environment(compose["x-airflow-common"])
    for name, service in compose["services"].items():
        yield name, environment(service)


def test_no_plaintext_secrets(compose: dict) -> None:
    problems = []
    for name, env in _env_blocks(compose):
        for key, value in env.items():
            if SECRET_KEY_PATTERN.search(key) and not key.endswith("_FILE"):
                match = _SINGLE_VAR.fullmatch(value)
                if not match:
                    problems.append(f"{name}.{key} is not a ${{...}} interpolation")
                elif match.group("op") in (":-", "-"):
                    var, default = match.group("name"), match.group("arg")
                    if DOCUMENTED_SECRET_DEFAULTS.get(var) != default:
                        problems.append(f"{name}.{key} falls back to an undocumented default")
            # Credentials embedded in URLs (DB connections, result backend, ...).
            for url_password in re.findall(r"://[^:/@\s]*:([^@\s]*)@", value):
                if url_password == "":
                    continue  # e.g. redis://:@redis:6379/0 - no password
                match = _SINGLE_VAR.fullmatch(url_password)
                if not match or DOCUMENTED_SECRET_DEFAULTS.get(match.group("name")) != (match.group("arg") or ""):
                    problems.append(f"{name}.{key} embeds a literal password in a URL")
    assert not problems, "\n".join(problems)


def test_jwt_secret_and_fernet_key_come_from_interpolation(compose: dict) -> None:
    common = environment(compose["x-airflow-common"])
    for key, variable in REQUIRED_SECRETS.items():
        match = _SINGLE_VAR.fullmatch(common[key])
        assert match and match.group("name") == variable and match.group("op") == ":?", (
            f"{key} must be ${{{variable}:?message}}, got {common[key]!r}"
        )
        with pytest.raises(MissingRequiredVariable):
            interpolate(common[key], {})
        assert interpolate(common[key], {variable: "s3cr3t"}) == "s3cr3t"
    fernet = _SINGLE_VAR.fullmatch(common["AIRFLOW__CORE__FERNET_KEY"])
    assert fernet, "AIRFLOW__CORE__FERNET_KEY must come from ${...}"


def test_every_compose_variable_has_default_or_is_required(compose: dict) -> None:
    """A bare ${VAR} silently becomes "" when unset."""
    bare = sorted({m.group(0) for s in iter_strings(compose) for m in compose_variables(s) if m.group("op") is None})
    assert not bare, f"variables without a default or :? message: {bare}"


def test_simple_auth_manager_with_an_admin(services: dict) -> None:
    env = environment(services["airflow-apiserver"])
    assert env.get("AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH_MANAGER) == SIMPLE_AUTH_MANAGER
    users = interpolate(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"], {})
    roles = {}
    for entry in users.split(","):
        username, role = entry.strip().split(":")[:2]
        assert role in {"viewer", "user", "op", "admin"}, entry
        roles[username] = role
    assert "admin" in roles.values(), f"no admin user in {users!r}"
    # The generated passwords must survive container re-creation: keep them on a mount.
    password_file = PurePosixPath(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    assert mount_source(services["airflow-apiserver"], str(password_file.parent)), (
        f"{password_file.parent} is not mounted into the api-server"
    )
