"""Fixtures shared by unit test packages: the docs examples of tests/unit/governance/test_metadata.py,
which tests/unit/cli/test_docs_cli.py uses too (one compile per process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.governance.test_metadata import compiled_example, edited_example


@pytest.fixture(scope="session")
def docs_example(example_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compiled_example(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def edited_docs_example(example_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edited_example(tmp_path_factory.getbasetemp())
