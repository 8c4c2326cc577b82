"""What `dualengine test` found: one case per check, grouped by the seed's categories.

The same cases become the terminal summary, the `--json` document and the JUnit XML that
CI systems show per test (a category is a test suite, a case a test case).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["passed", "failed", "skipped"]

# The seed's CrossEngineTestSuite categories, plus the engines' own tests (SQLMesh unit
# tests and audits, dbt tests) and the builds they run on.
CATEGORIES = {
    "engine_tests": "builds and the engines' own tests",
    "schema_compatibility": "schema compatibility",
    "data_consistency": "data consistency",
    "performance_regression": "performance regression",
    "dependency_validation": "dependency validation",
}


def verdict(failed: object) -> Status:
    """ "failed" when `failed` is truthy (a list of problems, a message), else "passed"."""
    return "failed" if failed else "passed"


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    status: Status
    message: str = ""
    models: tuple[str, ...] = ()  # `engine:name` of the models the case is about (failing ones when failed)
    file: str | None = None  # the file that defines what was checked (contract, check file)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "models": list(self.models)}


@dataclass
class TestReport:
    project: str
    environment: str
    warehouse: str  # where it ran, in words
    cases: list[Case] = field(default_factory=list)
    selection: dict[str, Any] = field(default_factory=dict)  # changed / tested / built as inputs / skipped

    def add(self, cases: Iterable[Case]) -> None:
        self.cases.extend(cases)

    @property
    def failed(self) -> list[Case]:
        return [c for c in self.cases if c.status == "failed"]

    @property
    def passed(self) -> bool:
        return not self.failed

    def counts(self, category: str | None = None) -> dict[str, int]:
        cases = [c for c in self.cases if category in (None, c.category)]
        return {s: sum(1 for c in cases if c.status == s) for s in ("passed", "failed", "skipped")}

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "environment": self.environment,
            "warehouse": self.warehouse,
            "passed": self.passed,
            "selection": self.selection,
            "categories": {
                name: {
                    "title": title,
                    **self.counts(name),
                    "cases": [c.as_dict() for c in self.cases if c.category == name],
                }
                for name, title in CATEGORIES.items()
            },
        }

    def render(self) -> str:
        lines = [f"dualengine test {self.project} (environment {self.environment}, {self.warehouse})"]
        lines += _render_selection(self.selection)
        for name, title in CATEGORIES.items():
            cases = [c for c in self.cases if c.category == name]
            counts = self.counts(name)
            lines.append(
                f"\n{title}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
            )
            for case in cases:
                if case.status == "passed":
                    continue
                mark = "FAIL" if case.status == "failed" else "skip"
                where = f" [{case.file}]" if case.file else ""
                lines.append(f"  {mark} {case.name}{where}")
                for text in case.message.splitlines():
                    lines.append(f"       {text}")
        total = self.counts()
        verdict = "FAILED" if self.failed else "PASSED"
        lines.append(f"\n{verdict}: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
        if self.failed:
            models = sorted({m for c in self.failed for m in c.models})
            if models:
                lines.append(f"failing models: {', '.join(models)}")
        return "\n".join(lines)


def _render_selection(selection: dict[str, Any]) -> list[str]:
    if not selection:
        return []
    if not selection.get("since"):
        return [f"tested: every model ({len(selection.get('tested', []))})"]
    lines = [f"changed since {selection['since']}: {', '.join(selection['changed']) or 'no model'}"]
    for reason in selection.get("reasons", []):
        lines.append(f"  {reason}")
    lines.append(f"tested (changed and downstream): {', '.join(selection['tested']) or 'nothing'}")
    if selection.get("inputs"):
        lines.append(f"built as inputs only: {', '.join(selection['inputs'])}")
    lines.append(f"skipped (not changed, not downstream): {', '.join(selection['skipped']) or 'nothing'}")
    return lines


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML 1.0 cannot hold (an engine's colours)


def write_junit(report: TestReport, path: Path) -> None:
    """JUnit XML: one <testsuite> per category, one <testcase> per case."""
    import xml.etree.ElementTree as ET

    def clean(text: str) -> str:
        return _NOT_XML.sub("", text)

    root = ET.Element("testsuites", name=f"dualengine test {report.project}")
    for name, title in CATEGORIES.items():
        cases = [c for c in report.cases if c.category == name]
        counts = report.counts(name)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(cases)),
            failures=str(counts["failed"]),
            skipped=str(counts["skipped"]),
            errors="0",
            time=f"{sum(c.seconds for c in cases):.3f}",
        )
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="title", value=title)
        for case in cases:
            element = ET.SubElement(
                suite, "testcase", classname=f"dualengine.{name}", name=clean(case.name), time=f"{case.seconds:.3f}"
            )
            if case.file:
                element.set("file", case.file)
            if case.status == "failed":
                message = clean(case.message)
                failure = ET.SubElement(element, "failure", message=message.splitlines()[0] if message else "")
                failure.text = "\n".join([message, *(f"model: {m}" for m in case.models)])
            elif case.status == "skipped":
                ET.SubElement(element, "skipped", message=clean(case.message))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
