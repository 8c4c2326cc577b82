"""`dualengine ci init`: write a CI workflow (GitHub Actions, GitLab CI) that runs
`dualengine test` on every pull request, so a repository gets the cross-engine tests
without anyone hand-writing YAML that drifts from the CLI.

The files are built from Python dicts and dumped with PyYAML's safe dumper, so they are
always valid YAML; the project path and branch name are checked against a plain
character set first because they end up in shell lines. Nothing is written unless every
file can be (an existing file that differs needs --force)."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

GITHUB_WORKFLOW = Path(".github/workflows/dual_engine_tests.yml")
GITLAB_CI = Path(".gitlab-ci.yml")
JUNIT_FILE = "dualengine-test-results.xml"
VENV = ".venv"
PACKAGE = "airflow-provider-dualengine"
# Root files whose change should rebuild the cached virtualenv.
DEPENDENCY_FILES = ("requirements.txt", "pyproject.toml")

# Folder names and branch names: no shell metacharacters, spaces, quotes or leading '-'.
_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*")
_PYTHON = re.compile(r"\d+\.\d+(\.\d+)?")


class CiInitError(ValueError):
    """A problem with the arguments or the repository, printed as `error: ...` (exit 1)."""


def check_project_path(project_rel: str) -> str:
    """`project_rel` as a plain relative POSIX path ('.' for the repository root)."""
    parts = project_rel.split("/")
    if project_rel != "." and not all(_PATH_PART.fullmatch(p) for p in parts):
        raise CiInitError(
            f"project path '{project_rel}' is not a plain relative path\n    fix: use a folder inside the repository whose path has only letters, digits, '.', '_', '-' and '/' (no leading '-' or '.', no '..')"
        )
    return project_rel


def check_branch(name: str) -> str:
    """A git branch name limited to characters that need no quoting in a shell or YAML."""
    valid = (
        _BRANCH.fullmatch(name)
        and ".." not in name
        and "//" not in name
        and "/." not in name
        and not name.endswith(("/", ".", ".lock"))
    )
    if not valid:
        raise CiInitError(
            f"branch name '{name}' is not a plain git branch name\n    fix: use letters, digits, '.', '_', '-' and '/' (e.g. main, release/2.x)"
        )
    return name


def test_command(project_rel: str, base_branch: str = "main") -> list[str]:
    """The argv of the workflow's pull-request test step: `dualengine test` on what changed
    since the base branch, with a JUnit report the CI shows."""
    return [
        "dualengine",
        "test",
        check_project_path(project_rel),
        "--changed-since",
        f"origin/{check_branch(base_branch)}",
        "--junit",
        JUNIT_FILE,
    ]


def whole_project_command(project_rel: str) -> list[str]:
    """Pushes to the base branch test every model (there is nothing to compare with)."""
    return ["dualengine", "test", check_project_path(project_rel), "--junit", JUNIT_FILE]


def _install_command(requirements: bool) -> list[str]:
    return [
        f"{VENV}/bin/python",
        "-m",
        "pip",
        "install",
        PACKAGE,
        *(["-r", "requirements.txt"] if requirements else []),
    ]


def github_workflow(project_rel: str, base_branch: str, python: str, requirements: bool) -> dict[str, Any]:
    """The GitHub Actions workflow: full history (for the diff against origin/<base>), a
    virtualenv cached on the dependency files, validate, test, the JUnit report kept."""
    deps = ", ".join(f"'{p}'" for p in ("requirements*.txt", "pyproject.toml"))
    install = [f"python -m venv {VENV}", shlex.join(_install_command(requirements))]
    return {
        "name": "Dual Engine Integration Tests",
        "on": {"pull_request": {}, "push": {"branches": [check_branch(base_branch)]}},
        "permissions": {"contents": "read"},
        "jobs": {
            "test_cross_engine_integration": {
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 60,
                "steps": [
                    {"name": "Check out with history", "uses": "actions/checkout@v4", "with": {"fetch-depth": 0}},
                    {
                        "name": "Set up Python",
                        "id": "setup-python",
                        "uses": "actions/setup-python@v5",
                        "with": {"python-version": python},
                    },
                    {
                        "name": "Cache the virtualenv",
                        "id": "venv-cache",
                        "uses": "actions/cache@v4",
                        "with": {
                            "path": VENV,
                            # The full Python version: the venv links to that interpreter.
                            "key": f"dualengine-venv-${{{{ runner.os }}}}-py${{{{ steps.setup-python.outputs.python-version }}}}-${{{{ hashFiles({deps}) }}}}",
                        },
                    },
                    {
                        "name": "Install airflow-provider-dualengine",
                        "if": "steps.venv-cache.outputs.cache-hit != 'true'",
                        "run": "\n".join(install) + "\n",
                    },
                    {
                        "name": "Put the virtualenv on PATH",
                        "run": f'echo "$GITHUB_WORKSPACE/{VENV}/bin" >> "$GITHUB_PATH"',
                    },
                    # `dualengine test` validates first: a project that does not load fails
                    # there, with its reasons in the JUnit report (no separate validate step
                    # that would stop the job before the report exists).
                    {
                        "name": "Run the cross-engine tests on what the pull request changed",
                        "id": "dualengine-test",
                        "if": "github.event_name == 'pull_request'",
                        "run": shlex.join(test_command(project_rel, base_branch)),
                    },
                    {
                        "name": "Run the cross-engine tests on the whole project",
                        "if": "github.event_name != 'pull_request'",
                        "run": shlex.join(whole_project_command(project_rel)),
                    },
                    {
                        "name": "Upload the JUnit report",
                        "if": "always()",
                        "uses": "actions/upload-artifact@v4",
                        "with": {"name": "dualengine-test-results", "path": JUNIT_FILE, "if-no-files-found": "warn"},
                    },
                ],
            }
        },
    }


def gitlab_ci(project_rel: str, base_branch: str, python: str, dependency_files: list[str]) -> dict[str, Any]:
    """The same job for GitLab CI: merge requests and pushes to the base branch."""
    branch = check_branch(base_branch)
    key: str | dict[str, Any] = f"dualengine-venv-py{python}"
    if dependency_files:  # GitLab hashes at most two files, named exactly
        key = {"files": dependency_files[:2], "prefix": f"dualengine-venv-py{python}"}
    install = shlex.join(_install_command("requirements.txt" in dependency_files))
    return {
        "dual_engine_tests": {
            "image": f"python:{python}",
            "variables": {"GIT_DEPTH": "0"},
            "rules": [
                {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
                {"if": f'$CI_COMMIT_BRANCH == "{branch}"'},
            ],
            "cache": {"key": key, "paths": [f"{VENV}/"]},
            "before_script": [
                shlex.join(["git", "fetch", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}"]),
                f"if [ ! -x {VENV}/bin/dualengine ]; then python -m venv {VENV} && {install}; fi",
                f'export PATH="$CI_PROJECT_DIR/{VENV}/bin:$PATH"',
            ],
            "script": [
                # merge requests: what changed since the target branch; pushes to it: everything
                f'if [ "$CI_PIPELINE_SOURCE" = merge_request_event ]; then {shlex.join(test_command(project_rel, base_branch))}; '
                f"else {shlex.join(whole_project_command(project_rel))}; fi",
            ],
            "artifacts": {"when": "always", "reports": {"junit": JUNIT_FILE}, "paths": [JUNIT_FILE]},
        }
    }


def render(document: dict[str, Any], header: str) -> str:
    """`header` as comment lines, then the document (multi-line strings as `|` blocks)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    _Dumper.add_representer(str, _str)
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=4096, allow_unicode=True)
    return comments + body


def _repo_root(project_root: Path, given: str | None) -> Path:
    if given:
        root = Path(given).expanduser().resolve()
        if not root.is_dir():
            raise CiInitError(f"--repo-root {given} is not a directory")
        return root
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=project_root, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise CiInitError("git is not installed\n    fix: install git, or pass --repo-root") from exc
    if found.returncode != 0:
        reason = (found.stderr.strip().splitlines() or ["git rev-parse failed"])[-1]
        raise CiInitError(
            f"{project_root} is not in a git repository ({reason})\n    fix: run `git init` there, or pass --repo-root"
        )
    return Path(found.stdout.strip()).resolve()


def _files(args: argparse.Namespace) -> list[tuple[Path, str]]:
    """[(file, content)] for the chosen CIs, every argument checked first."""
    from airflow_provider_dualengine.config.project import load_project

    if not (args.github or args.gitlab):
        raise CiInitError("nothing to write: both --no-github and --no-gitlab given")
    if not _PYTHON.fullmatch(args.python):
        raise CiInitError(f"--python '{args.python}' is not a version like 3.11")
    check_branch(args.base_branch)
    project = load_project(args.project_dir)
    repo = _repo_root(project.root, args.repo_root)
    try:
        project_rel = check_project_path(project.root.relative_to(repo).as_posix())
    except ValueError as exc:
        if isinstance(exc, CiInitError):
            raise
        raise CiInitError(f"project folder {project.root} is not inside the repository {repo}") from exc
    dependency_files = [name for name in DEPENDENCY_FILES if (repo / name).is_file()]
    rerun = ["dualengine", "ci", "init", project_rel, "--base-branch", args.base_branch, "--python", args.python]
    rerun += [*(["--repo-root", "."] if args.repo_root else []), *([] if args.github else ["--no-github"])]
    rerun += [*([] if args.gitlab else ["--no-gitlab"]), "--force"]
    header = (
        "Generated by `dualengine ci init` (airflow-provider-dualengine): runs `dualengine test` on\n"
        "the dual-engine project for every pull request. To regenerate it (edits are overwritten),\n"
        f"run from the repository root: {shlex.join(rerun)}"
    )
    files = []
    if args.github:
        document = github_workflow(project_rel, args.base_branch, args.python, "requirements.txt" in dependency_files)
        files.append((repo / GITHUB_WORKFLOW, render(document, header)))
    if args.gitlab:
        files.append(
            (repo / GITLAB_CI, render(gitlab_ci(project_rel, args.base_branch, args.python, dependency_files), header))
        )
    return files


def ci_init(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.config.errors import DualEngineConfigError

    try:
        files = _files(args)
    except (CiInitError, DualEngineConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    current = {path: path.read_text(encoding="utf-8") if path.is_file() else None for path, _ in files}
    clashes = [path for path, text in files if current[path] not in (None, text)]
    if clashes and not args.force:
        for path in clashes:
            print(f"error: {path} exists and differs from the generated file", file=sys.stderr)
        print("    fix: pass --force to overwrite it (or move it aside)", file=sys.stderr)
        return 1
    for path, text in files:
        if current[path] == text:
            print(f"{path} is up to date")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    ci = sub.add_parser("ci", help="set up continuous integration for a dual-engine project")
    verbs = ci.add_subparsers(dest="ci_command", required=True)
    init = verbs.add_parser(
        "init",
        help="write a GitHub Actions workflow and a .gitlab-ci.yml that run `dualengine test` on pull requests",
    )
    init.add_argument(
        "project_dir", nargs="?", default="transforms", help="folder holding dualengine.yml (default: transforms)"
    )
    init.add_argument(
        "--repo-root", metavar="PATH", help="repository root (default: `git rev-parse --show-toplevel` in the project)"
    )
    init.add_argument(
        "--base-branch", default="main", metavar="NAME", help="branch pull requests are compared with (default: main)"
    )
    init.add_argument(
        "--python", default="3.11", metavar="VERSION", help="Python version of the CI job (default: 3.11)"
    )
    init.add_argument("--force", action="store_true", help="overwrite existing files that differ")
    init.add_argument(
        "--github", action=argparse.BooleanOptionalAction, default=True, help=f"write {GITHUB_WORKFLOW} (default: yes)"
    )
    init.add_argument(
        "--gitlab", action=argparse.BooleanOptionalAction, default=True, help=f"write {GITLAB_CI} (default: yes)"
    )
    init.set_defaults(func=ci_init)
