"""Static checks of docker/Dockerfile and .dockerignore: the image installs the provider's
wheel, the whole wheel, the way the cluster test installs it.

No Docker engine here, so the build is reproduced as far as it matters: the wheel is
built from the repository, the build context is computed from .dockerignore, the wheel
stage's COPY lines are carried out into a temporary directory, and the wheel is built
again from there with the stage's own `pip wheel` command. The two wheels must be equal.
"""

from __future__ import annotations

import re
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.cluster.install import REPO_ROOT, REQUIREMENTS, WHEEL_EXTRAS, build_wheel, install_command, wheel_top_level
from tests.static.dockerfile import (
    DockerIgnore,
    Stage,
    context_files,
    copy_from_context,
    pip_commands,
    resolve_dockerfile,
)

DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
BUILD_INPUTS = ("pyproject.toml", "README.md")  # what setuptools reads besides the packages


def base_image_versions(image: str) -> tuple[str, str]:
    match = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", image)
    assert match, f"base image should be apache/airflow:<version>-python<x.y>, got {image!r}"
    return match.group(1), match.group(2)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    assert DOCKERFILE.is_file(), f"missing {DOCKERFILE}"
    return resolve_dockerfile(DOCKERFILE)


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def wheel_stage(stages: list[Stage], final: Stage) -> Stage:
    """The stage the final image copies its wheel from."""
    sources = {c.from_stage for c in final.copies if c.from_stage}
    assert len(sources) == 1, f"the final stage should copy the wheel from one build stage, copies from {sources}"
    [name] = sources
    matching = [s for s in stages[:-1] if s.name == name]
    assert matching, f"COPY --from={name}: no stage named {name}"
    return matching[0]


@pytest.fixture(scope="module")
def context() -> set[str]:
    return context_files(REPO_ROOT, DockerIgnore.read(DOCKERIGNORE))


@pytest.fixture(scope="module")
def repo_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The provider's wheel, built from a clean copy of the repository (~3 s)."""
    return build_wheel(tmp_path_factory.mktemp("repo-wheel"))


def _wheel_command(stage: Stage) -> list[str]:
    commands = [tokens for tokens, _ in pip_commands(stage) if tokens[1:2] == ["wheel"]]
    assert len(commands) == 1, f"the wheel stage should run one `pip wheel`, found {commands}"
    return commands[0]


@pytest.fixture(scope="module")
def image_wheel(tmp_path_factory: pytest.TempPathFactory, wheel_stage: Stage, context: set[str]) -> Path:
    """The wheel as the image's wheel stage builds it: its COPY lines carried out from the
    .dockerignore'd context, then `pip wheel` of the directory its command names."""
    root = tmp_path_factory.mktemp("image-stage-fs")
    copy_from_context(wheel_stage, REPO_ROOT, context, root)
    command = _wheel_command(wheel_stage)
    source = PurePosixPath([t for t in command[2:] if not t.startswith("-")][-1])
    assert source.is_absolute(), f"pip wheel should name an absolute source directory: {command}"
    return build_wheel(tmp_path_factory.mktemp("image-wheel"), source_dir=root / source.relative_to("/"))


# --------------------------------------------------------------------------- the wheel in the image


def test_every_top_level_package_of_the_wheel_reaches_the_image(
    repo_wheel: Path, wheel_stage: Stage, context: set[str]
) -> None:
    """Each package or module the wheel installs (the provider, the dbt plugin, ...) is
    copied by the wheel stage from a context that .dockerignore lets it into."""
    tops = wheel_top_level(repo_wheel)
    assert "airflow_provider_dualengine" in tops and "dbt_dualengine" in tops, tops
    copied = {
        PurePosixPath(s).as_posix().rstrip("/") for c in wheel_stage.copies if c.from_stage is None for s in c.sources
    }
    problems = []
    for top in [*tops, *BUILD_INPUTS]:
        if top not in copied:
            problems.append(f"{top}: no COPY of it in the wheel stage ({sorted(copied)})")
        sources = (
            [p for p in (REPO_ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
            if (REPO_ROOT / top).is_dir()
            else [REPO_ROOT / top]
        )
        left_out = sorted(
            p.relative_to(REPO_ROOT).as_posix() for p in sources if p.relative_to(REPO_ROOT).as_posix() not in context
        )
        if left_out:
            problems.append(f"{top}: .dockerignore leaves out {left_out[:5]}{' ...' if len(left_out) > 5 else ''}")
    assert not problems, "\n".join(problems)


def test_the_image_builds_the_same_wheel_as_the_repository(repo_wheel: Path, image_wheel: Path) -> None:
    with zipfile.ZipFile(repo_wheel) as repo, zipfile.ZipFile(image_wheel) as image:
        repo_names, image_names = set(repo.namelist()), set(image.namelist())
        assert repo_names == image_names, (
            f"only in the repository's wheel: {sorted(repo_names - image_names)}; only in the image's: {sorted(image_names - repo_names)}"
        )
        differing = [n for n in sorted(repo_names) if repo.read(n) != image.read(n)]
    assert not differing, f"members that differ: {differing}"


def test_build_context_leaves_the_checkout_out(context: set[str]) -> None:
    ignore = DockerIgnore.read(DOCKERIGNORE)
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "transforms/dualengine.yml",
        "tests/conftest.py",
        "dags/dualengine_example.py",
        "airflow_provider_dualengine/__pycache__/x.cpython-311.pyc",
        "airflow_provider_dualengine.egg-info/PKG-INFO",
    ):
        assert ignore.excluded(path), f".dockerignore lets {path} into the build context"
    assert len(context) < 300, f"build context has {len(context)} files"


def test_dockerignore_matcher_follows_docker(tmp_path: Path) -> None:
    """The matcher the checks above rely on, on Docker's documented cases."""
    ignore = DockerIgnore("*\n!keep/\n**/__pycache__\n!docker/one.txt\n/abs.md\ndocs/*.md\n!docs/README*.md")
    assert ignore.excluded("anything.txt") and ignore.excluded("sub/dir/file")
    assert not ignore.excluded("keep/a.py") and not ignore.excluded("keep/deep/b.py")
    assert ignore.excluded("keep/deep/__pycache__/b.pyc")
    assert not ignore.excluded("docker/one.txt") and ignore.excluded("docker/two.txt")
    assert ignore.excluded("abs.md")
    only_md = DockerIgnore("docs/*.md\n!docs/README*.md")
    assert (
        only_md.excluded("docs/a.md")
        and not only_md.excluded("docs/README-x.md")
        and not only_md.excluded("docs/sub/a.md")
    )


# --------------------------------------------------------------------------- one install recipe


def test_image_installs_the_wheel_with_the_cluster_tests_requirements(final: Stage, wheel_stage: Stage) -> None:
    """docker/Dockerfile and tests/cluster/install.py run the same `pip install`:
    `<wheel>[postgres] -r docker/cluster-requirements.txt`."""
    requirements_source = REQUIREMENTS.relative_to(REPO_ROOT).as_posix()
    [copy] = [c for c in final.copies if c.from_stage is None and requirements_source in c.sources] or [None]
    assert copy is not None, f"the image does not COPY {requirements_source}"
    requirements_in_image = (
        copy.dest if not copy.dest.endswith("/") else copy.dest + PurePosixPath(requirements_source).name
    )

    installs = [(tokens, user) for tokens, user in pip_commands(final) if tokens[1:2] == ["install"]]
    assert len(installs) == 1, f"expected one pip install in the final stage, found {installs}"
    tokens, user = installs[0]
    assert user not in ("root", "0"), "the official image only supports pip install as the airflow user"
    assert "--no-cache-dir" in tokens
    assert tokens[tokens.index("-r") + 1] == requirements_in_image, tokens
    wheels = [t for t in tokens if t.endswith(f"[{WHEEL_EXTRAS}]")]
    assert wheels == ["${wheel}" + f"[{WHEEL_EXTRAS}]"], f"the wheel with extras [{WHEEL_EXTRAS}]: {tokens}"

    # ${wheel} is the one wheel the wheel stage built, copied over from it
    [dist] = [c.dest.rstrip("/") for c in final.copies if c.from_stage == wheel_stage.name]
    assignment = f'wheel="$(echo {dist}/airflow_provider_dualengine-*.whl)"'
    assert any(assignment in run for run in final.runs), f"expected {assignment} before the install"
    out_dir = _wheel_command(wheel_stage)
    assert out_dir[out_dir.index("--wheel-dir") + 1].rstrip("/") == dist and "--no-deps" in out_dir

    # and the cluster test's command names the same file and extras
    cluster = install_command(Path("/venv/bin/python"), Path("/dist/w.whl"))
    assert cluster[cluster.index("-r") + 1] == str(REQUIREMENTS) and "/dist/w.whl" + f"[{WHEEL_EXTRAS}]" in cluster


def test_requirements_pin_airflow_to_the_base_image_with_a_working_celery(stages: list[Stage]) -> None:
    requirements = [
        Requirement(line)
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]
    by_name = {r.name: r for r in requirements}
    images = {s.image for s in stages}
    assert len(images) == 1, f"every stage should start from the same base image: {images}"
    airflow_version, _ = base_image_versions(images.pop())
    airflow = by_name["apache-airflow"]
    assert str(airflow.specifier) == f"=={airflow_version}", f"{airflow} vs base image {airflow_version}"
    assert {"celery", "postgres"} <= airflow.extras, (
        "a CeleryExecutor cluster on PostgreSQL needs apache-airflow[celery,postgres]"
    )
    celery = by_name["celery"].specifier
    assert not celery.contains("5.7.0") and celery.contains("5.6.3"), (
        f"celery {celery}: 5.7.0 breaks providers-celery, 5.6.3 works"
    )


def test_base_image_satisfies_the_provider_requirements(final: Stage) -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    airflow_version, python_version = base_image_versions(final.image)
    assert SpecifierSet(project["requires-python"]).contains(f"{python_version}.0"), python_version
    airflow_reqs = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "apache-airflow"]
    assert airflow_reqs, "pyproject.toml should declare its apache-airflow range"
    for requirement in airflow_reqs:
        assert requirement.specifier.contains(airflow_version), (
            f"base image Airflow {airflow_version} is outside the provider's range {requirement.specifier}"
        )
    assert WHEEL_EXTRAS in project["optional-dependencies"], (
        f"the wheel is installed with [{WHEEL_EXTRAS}], which pyproject.toml does not define"
    )


def test_copy_sources_exist_and_nothing_is_added(stages: list[Stage]) -> None:
    for stage in stages:
        assert not [k for k, _ in stage.other if k == "ADD"], "use COPY (ADD fetches URLs and unpacks archives)"
        for copy in stage.copies:
            if copy.from_stage is None:
                for source in copy.sources:
                    assert (REPO_ROOT / source).exists(), f"COPY source {source!r} not found in the repo"


def test_image_build_fails_when_a_wheel_package_does_not_import(final: Stage) -> None:
    """The smoke test after the install imports every top-level package the installed
    wheel declares (the missing dbt plugin once broke `dualengine compile` in airflow-init)."""
    last = final.runs[-1]
    assert "top_level.txt" in last and "import_module" in last and "dualengine --help" in last, last
    # and when pip moved Airflow off the base image (the ARG must be re-declared to be seen)
    airflow_version, _ = base_image_versions(final.image)
    assert "airflow.__version__" in last and f'= "{airflow_version}"' in last, last
