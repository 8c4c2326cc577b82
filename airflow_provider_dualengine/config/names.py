"""Name rules shared by the config models.

Names end up as Airflow task ids, SQLMesh/dbt selectors and SQL identifiers, so they
are restricted to a safe alphabet at the door instead of escaped everywhere later.
"""

from typing import Annotated

from pydantic import StringConstraints

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
MODEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$"

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER)]
ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME)]
