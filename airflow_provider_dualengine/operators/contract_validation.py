"""The static contract check as the first task of a DAG run.

Runs `dualengine contracts check` logic (compiled artifact only: no warehouse, no engine)
so that a producer change that breaks a contract fails the run before any model is built,
while the DAG itself stays visible in the UI (a parse-time error would hide it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator


class ContractsBroken(RuntimeError):
    pass


class ContractValidationOperator(BaseOperator):
    custom_operator_name = "Data contracts (static check)"
    template_fields: Sequence[str] = ()
    ui_color = "#fef3c7"

    def __init__(self, *, project_dir: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.project_dir = project_dir

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.config.project import load_project
        from airflow_provider_dualengine.contracts.static import check_project_contracts

        contracts, findings = check_project_contracts(load_project(self.project_dir))
        errors = [f for f in findings if f.severity == "error"]
        for finding in findings:
            (self.log.error if finding.severity == "error" else self.log.warning)("%s", finding)
        result = {
            "contracts": [c.model.name for c in contracts],
            "errors": [f.to_dict() for f in errors],
            "warnings": [f.to_dict() for f in findings if f.severity != "error"],
        }
        if errors:
            raise ContractsBroken(
                f"{len(errors)} contract violation(s) before anything ran:\n" + "\n".join(str(f) for f in errors)
            )
        self.log.info("%d contract(s) hold statically: %s", len(contracts), ", ".join(c.model.name for c in contracts))
        return result
