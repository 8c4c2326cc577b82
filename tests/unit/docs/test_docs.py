"""The README and docs/ say only what the code does: their examples compile and import,
their `dualengine` commands parse, the paths they name exist, and docs/ covers every
operator, sensor, trigger, hook, CLI verb, public name and config key of the package.

Fast and engine-free: Markdown is parsed with regular expressions, commands with the CLI's
own argparse parser, and imports resolve modules without running SQLMesh or dbt.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import inspect
import io
import re
import shlex
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PACKAGE = "airflow_provider_dualengine"
README = REPO / "README.md"
DOCS = REPO / "docs"
README_LIMIT = 8192  # bytes: the README says how to start, docs/ says the rest
# Commands the README must keep, word for word: CI runs the second (.ci/run), the cluster and
# compose tests check the third, and the first is what tests/e2e/test_demo_command.py runs.
README_COMMANDS = (
    "bash scripts/demo.sh",
    "bash scripts/test.sh",
    "airflow connections add dualengine_warehouse --conn-type duckdb --conn-host",
)
# Folders of the repository a code block may name as a path (`scripts/demo.sh`, `tests/e2e/`).
REPO_FOLDERS = ("scripts", "tests", "dags", "transforms", "docker", "docs", "benchmarks", PACKAGE, "dbt_dualengine")
# Sub-packages of the provider: `factory/dag_builder.py` in prose means the package's file.
SUBPACKAGES = (
    "cli",
    "factory",
    "operators",
    "sensors",
    "triggers",
    "deployments",
    "contracts",
    "hooks",
    "graph",
    "compiled",
    "engines",
    "config",
)
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "shell-session"}


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # of the opening fence
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def doc_files() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def fenced_blocks(path: Path) -> list[Block]:
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    opening = None
    for number, line in enumerate(lines, 1):
        fence = re.match(r"^\s*(```+|~~~+)\s*([\w+-]*)", line)
        if fence and opening is None:
            opening, language, body = (number, fence.group(1)), fence.group(2).lower(), []
        elif opening is not None and line.strip().startswith(opening[1]) and not line.strip().strip("`~"):
            blocks.append(Block(path, opening[0], language, textwrap.dedent("\n".join(body))))  # a fence in a list item
            opening = None
        elif opening is not None:
            body.append(line)
    assert opening is None, f"{path.relative_to(REPO)}:{opening[0]}: code fence never closed"
    return blocks


def prose(path: Path) -> str:
    """The file without its fenced blocks."""
    return re.sub(r"^\s*```.*?^\s*```[ \t]*$", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def inline_code(path: Path) -> list[str]:
    return re.findall(r"`([^`\n]+)`", prose(path))


def all_blocks(language: set[str] | None = None) -> list[Block]:
    return [b for f in markdown_files() for b in fenced_blocks(f) if language is None or b.language in language]


def docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in doc_files())


def test_docs_exist() -> None:
    expected = {
        "getting-started.md",
        "concepts.md",
        "configuration.md",
        "operators.md",
        "cli.md",
        "deployments.md",
        "contracts.md",
        "operations.md",
        "architecture.md",
        "python-api.md",
    }
    missing = sorted(expected - {p.name for p in doc_files()})
    assert not missing, f"docs/ lacks {missing}"


# --------------------------------------------------------------------------- README


def test_readme_is_short() -> None:
    size = README.stat().st_size
    assert size < README_LIMIT, f"README.md is {size} bytes; keep it under {README_LIMIT} (move detail into docs/)"


def test_readme_keeps_the_commands_tests_and_ci_rely_on() -> None:
    shell = "\n".join(b.text for b in fenced_blocks(README) if b.language in SHELL_LANGUAGES)
    missing = [c for c in README_COMMANDS if c not in shell]
    assert not missing, f"README.md: no shell block holds {missing}"


def test_readme_links_into_docs() -> None:
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)(?:#[\w-]*)?\)", README.read_text(encoding="utf-8")))
    unlinked = sorted(f"docs/{p.name}" for p in doc_files() if f"docs/{p.name}" not in linked)
    assert not unlinked, f"README.md links to no {unlinked}"


# --------------------------------------------------------------------------- Python examples


def _python_blocks() -> list[Block]:
    return all_blocks({"python", "py"})


@pytest.mark.parametrize("block", _python_blocks(), ids=lambda b: b.where)
def test_python_block_compiles_and_its_imports_resolve(block: Block) -> None:
    try:
        tree = ast.parse(block.text, filename=block.where)
    except SyntaxError as exc:
        pytest.fail(f"{block.where}: python block does not compile: {exc}")
    compile(tree, block.where, "exec")
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = _import(node.module, problems, block)
            if module is not None:
                for alias in node.names:
                    if alias.name != "*" and not hasattr(module, alias.name):
                        problems.append(f"`from {node.module} import {alias.name}`: {node.module} has no {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                _import(alias.name, problems, block)
    assert not problems, f"{block.where}:\n  " + "\n  ".join(problems)


def _import(name: str, problems: list[str], block: Block):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        problems.append(f"`import {name}` fails: {exc}")
        return None


# --------------------------------------------------------------------------- dualengine commands


def build_cli() -> argparse.ArgumentParser:
    from airflow_provider_dualengine.cli.main import build_parser

    return build_parser()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def verbs(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """'validate', 'contracts check', ...: every leaf command with its parser."""
    found = {}
    for name, sub in subcommands(parser).items():
        nested = verbs(sub, f"{prefix}{name} ")
        found.update(nested or {f"{prefix}{name}": sub})
    return found


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help")}


def shell_commands(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line offset, tokens) of every `dualengine ...` command in a shell block."""
    logical, start = "", 0
    for offset, line in enumerate(text.splitlines()):
        if not logical:
            start = offset
        line = re.sub(r"^\s*\$ ", "", line)
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        lexer = shlex.shlex(logical, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # an unbalanced quote: not a command line (output, say)
            tokens = []
        logical = ""
        command: list[str] = []
        for token in [*tokens, ";"]:
            if token and set(token) <= set(";&|()<>"):
                if command and Path(command[0]).name == "dualengine":
                    yield start, command
                command = []
            else:
                command.append(token)


def _dualengine_commands() -> list[tuple[str, list[str]]]:
    found = []
    for block in all_blocks(SHELL_LANGUAGES):
        for offset, tokens in shell_commands(block.text):
            found.append((f"{block.file.relative_to(REPO)}:{block.line + 1 + offset}", tokens))
    return found


@pytest.mark.parametrize(("where", "tokens"), _dualengine_commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_dualengine_command_in_a_code_block_parses(where: str, tokens: list[str]) -> None:
    """The CLI's own parser accepts it: the verb, its options and its arguments exist."""
    argv = [t for t in tokens[1:] if t != "--debug"]  # main() accepts --debug anywhere
    stderr, code = io.StringIO(), None
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_cli().parse_args(argv)
        except SystemExit as exc:
            code = exc.code
    refused = stderr.getvalue().strip().splitlines()[-1:] if code not in (0, None) else []  # --help exits 0
    assert not refused, f"{where}: `{shlex.join(tokens)}` is refused by the CLI: {refused[0]}"


def test_dualengine_commands_in_prose_name_real_verbs_and_options() -> None:
    """Inline `dualengine <verb> --option` in the text: the verb and each option exist."""
    leaves, problems = verbs(build_cli()), []
    for path in markdown_files():
        for code in inline_code(path):
            if not re.match(r"^dualengine(\s|$)", code):
                continue
            words = [w for w in code.split()[1:] if w not in ("--debug", "...")]
            names = [w for w in words if re.fullmatch(r"[a-z]+", w)]
            verb = next((v for v in (" ".join(names[:2]), " ".join(names[:1])) if v in leaves), None)
            if verb is None:
                if names or words:
                    problems.append(f"{path.relative_to(REPO)}: `{code}`: no such verb (verbs: {', '.join(leaves)})")
                continue
            known = options(leaves[verb]) | {"--debug"}
            unknown = [w.split("=")[0] for w in words if w.startswith("-") and w.split("=")[0] not in known]
            if unknown:
                problems.append(f"{path.relative_to(REPO)}: `{code}`: `dualengine {verb}` has no option {unknown}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- paths


def _repo_paths(text: str) -> set[str]:
    pattern = r"(?<![\w/.$~-])((?:" + "|".join(REPO_FOLDERS) + r")(?:/[\w.*-]+)*/?)"
    return {m.rstrip(".") for m in re.findall(pattern, text) if "/" in m}


def _exists(path: str) -> bool:
    return bool(list(REPO.glob(path.rstrip("/")))) if "*" in path else (REPO / path).exists()


def test_paths_in_code_blocks_exist() -> None:
    problems = []
    for block in all_blocks():
        for path in sorted(_repo_paths(block.text)):
            if not _exists(path):
                problems.append(f"{block.where}: {path} does not exist")
    assert not problems, "\n".join(problems)


def test_paths_in_inline_code_exist() -> None:
    """`scripts/demo.sh`, `tests/e2e/`, and package files named from their sub-package
    (`factory/dag_builder.py`, `deployments/`) must be there."""
    sub = r"(?<![\w/.$~-])((?:" + "|".join(SUBPACKAGES) + r")/(?:[\w-]+/)*(?:[\w-]+\.py)?)(?![\w/.-])"
    problems = []
    for path in markdown_files():
        for code in inline_code(path):
            for found in sorted(_repo_paths(code)):
                if not _exists(found):
                    problems.append(f"{path.relative_to(REPO)}: `{code}`: {found} does not exist")
            for found in re.findall(sub, code):
                if found.startswith("config/") and not found.endswith(".py"):
                    continue  # a project's config/ folder
                if not (REPO / PACKAGE / found).exists():
                    problems.append(f"{path.relative_to(REPO)}: `{code}`: {PACKAGE}/{found} does not exist")
    assert not problems, "\n".join(problems)


def test_relative_links_resolve() -> None:
    problems = []
    for path in markdown_files():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                problems.append(f"{path.relative_to(REPO)}: link to {target} points at nothing")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- coverage of docs/


def _mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) is not None


def airflow_classes() -> dict[str, str]:
    """Public operator, sensor, trigger and hook classes defined in the package: name -> module."""
    from airflow.sdk import BaseHook, BaseOperator
    from airflow.triggers.base import BaseTrigger

    bases = (BaseOperator, BaseHook, BaseTrigger)
    found, broken = {}, []
    for folder in ("operators", "sensors", "triggers", "hooks"):
        for path in sorted((REPO / PACKAGE / folder).glob("*.py")):
            try:
                module = importlib.import_module(f"{PACKAGE}.{folder}.{path.stem}")
            except ImportError as exc:
                broken.append(f"{folder}/{path.name}: {exc}")
                continue
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and not name.startswith("_") and issubclass(cls, bases):
                    found[name] = module.__name__
    assert not broken, "cannot import, so cannot tell which classes to document:\n  " + "\n  ".join(broken)
    return found


def test_docs_cover_every_operator_sensor_trigger_and_hook() -> None:
    classes = airflow_classes()
    assert classes, "found no operator classes: has the package moved?"
    text = (DOCS / "operators.md").read_text(encoding="utf-8")
    missing = [f"{name} ({module})" for name, module in sorted(classes.items()) if not _mentioned(name, text)]
    assert not missing, "docs/operators.md does not mention:\n  " + "\n  ".join(missing)


def test_docs_cover_every_cli_verb_and_option() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    parser, missing = build_cli(), []
    for option in sorted(options(parser)):
        if not _mentioned(option, text):
            missing.append(f"global option {option}")
    for verb, sub in verbs(parser).items():
        if f"dualengine {verb}" not in text:
            missing.append(f"`dualengine {verb}`")
        missing += [f"`dualengine {verb}` option {o}" for o in sorted(options(sub)) if not _mentioned(o, text)]
    assert not missing, "docs/cli.md does not document:\n  " + "\n  ".join(missing)


def test_docs_cover_every_public_name() -> None:
    import airflow_provider_dualengine as package

    text = docs_text()
    missing = [name for name in package.__all__ if not _mentioned(name, text)]
    assert not missing, f"docs/ never mentions these names of {PACKAGE}.__all__: {missing}"
    unresolved = [name for name in package.__all__ if not hasattr(package, name)]
    assert not unresolved, f"{PACKAGE}.__all__ lists names it does not provide: {unresolved}"


def test_python_api_documents_every_public_name() -> None:
    import airflow_provider_dualengine as package

    text = (DOCS / "python-api.md").read_text(encoding="utf-8")
    missing = [name for name in package.__all__ if not _mentioned(name, text)]
    assert not missing, f"docs/python-api.md does not document {missing}"


def config_models() -> dict[str, type]:
    from airflow_provider_dualengine.config.contracts import ContractFile
    from airflow_provider_dualengine.config.dependency_graph import DependencyGraphSpec
    from airflow_provider_dualengine.config.environments import EnvironmentsSpec
    from airflow_provider_dualengine.config.project import SETTINGS_FILE, ProjectSettings

    return {
        SETTINGS_FILE: ProjectSettings,
        "dependency_graph": DependencyGraphSpec,
        "environments": EnvironmentsSpec,
        "contract files": ContractFile,
    }


def config_keys(model: type, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(key as written in YAML, its path) of every field, nested models included."""
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        key = field.alias or name
        yield key, f"{prefix}{key}"
        for inner in _models_in(field.annotation):
            if issubclass(inner, BaseModel):
                yield from config_keys(inner, f"{prefix}{key}.")


def _models_in(annotation) -> Iterator[type]:
    from typing import get_args

    if isinstance(annotation, type):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def test_configuration_reference_covers_every_file_and_key() -> None:
    from airflow_provider_dualengine.config.project import SETTINGS_FILE, ProjectSettings

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    files = [SETTINGS_FILE] + [
        str(field.default)
        for field in ProjectSettings.model_fields.values()
        if isinstance(field.default, str) and ("/" in field.default or field.default.endswith((".yml", ".json")))
    ]
    missing = [f"file {f}" for f in files if f not in text]
    for file, model in config_models().items():
        missing += [f"{file}: key `{path}`" for key, path in config_keys(model) if not _mentioned(key, text)]
    assert not missing, "docs/configuration.md does not describe:\n  " + "\n  ".join(dict.fromkeys(missing))
