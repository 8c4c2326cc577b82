"""Compare a contract's column type with a real one, through sqlglot.

`INT`, `INTEGER` and PostgreSQL's `int4` are one type; `BIGINT` promised and `INT`
delivered is a narrowing; `DOUBLE` promised and `FLOAT` (4-byte) delivered too. A wider
type than promised is reported separately: consumers may not expect the extra range.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlglot import exp

from airflow_provider_dualengine.config.contracts import CONTRACT_DIALECT

T = exp.DataType.Type

# Same family, ordered narrow -> wide.
_FAMILIES: list[list[set[Any]]] = [
    [
        {T.TINYINT, T.UTINYINT},
        {T.SMALLINT, T.USMALLINT},
        {T.INT, T.UINT, T.MEDIUMINT},
        {T.BIGINT, T.UBIGINT},
        {T.INT128, T.UINT128, T.INT256, T.UINT256},
    ],
    [{T.FLOAT}, {T.DOUBLE}],
    [{T.CHAR, T.NCHAR}, {T.VARCHAR, T.NVARCHAR, T.TEXT, T.NAME}],
    [{T.DATE}],
    [{T.DATETIME, T.TIMESTAMP, T.TIMESTAMPNTZ}],
    [{T.TIMESTAMPTZ, T.TIMESTAMPLTZ}],
    [{T.BOOLEAN}],
    [{T.JSON, T.JSONB}],
    [{T.UUID}],
]


class Compatibility(str, Enum):
    SAME = "same"
    WIDER = "wider"  # delivered type holds more than promised
    NARROWER = "narrower"  # delivered type cannot hold everything promised
    DIFFERENT = "different"  # another kind of type altogether


def data_type(text: str, dialect: str = CONTRACT_DIALECT) -> exp.DataType:
    return exp.DataType.build(text, dialect=dialect, udt=True)


def _rank(dtype: exp.DataType) -> tuple[int, int] | None:
    for family_index, family in enumerate(_FAMILIES):
        for rank, members in enumerate(family):
            if dtype.this in members:
                return family_index, rank
    return None


def _params(dtype: exp.DataType) -> list[int]:
    values = []
    for param in dtype.expressions:
        node = param.this if isinstance(param, exp.DataTypeParam) else param
        try:
            values.append(int(node.name))
        except (TypeError, ValueError):
            return []
    return values


def _decimal(promised: exp.DataType, actual: exp.DataType) -> Compatibility:
    """DECIMAL(p, s): fewer integer digits or fewer decimals is a narrowing."""
    p, a = _params(promised) or [38, 0], _params(actual) or [38, 0]
    p_scale, a_scale = (p + [0])[1], (a + [0])[1]
    p_int, a_int = p[0] - p_scale, a[0] - a_scale
    if (p_int, p_scale) == (a_int, a_scale):
        return Compatibility.SAME
    if a_int >= p_int and a_scale >= p_scale:
        return Compatibility.WIDER
    return Compatibility.NARROWER


def _length(promised: exp.DataType, actual: exp.DataType) -> Compatibility:
    """VARCHAR(n) vs TEXT: no length is unbounded."""
    p, a = _params(promised), _params(actual)
    if p == a:
        return Compatibility.SAME
    if not a or (p and a[0] > p[0]):
        return Compatibility.WIDER
    return Compatibility.NARROWER


def compare(
    promised: str | exp.DataType, actual: str | exp.DataType, actual_dialect: str = CONTRACT_DIALECT
) -> Compatibility:
    """How the `actual` type of a column relates to the contract's `promised` type."""
    p = promised if isinstance(promised, exp.DataType) else data_type(promised)
    a = actual if isinstance(actual, exp.DataType) else data_type(actual, actual_dialect)
    if p.this == T.DECIMAL and a.this == T.DECIMAL:
        return _decimal(p, a)
    rank_p, rank_a = _rank(p), _rank(a)
    if rank_p is None or rank_a is None:
        return Compatibility.SAME if p.sql(CONTRACT_DIALECT) == a.sql(CONTRACT_DIALECT) else Compatibility.DIFFERENT
    if rank_p[0] != rank_a[0]:
        return Compatibility.DIFFERENT
    if rank_p[1] == rank_a[1]:
        if p.this in (T.VARCHAR, T.CHAR, T.NVARCHAR, T.NCHAR, T.TEXT) or a.this in (T.VARCHAR, T.CHAR):
            return _length(p, a)
        return Compatibility.SAME
    return Compatibility.WIDER if rank_a[1] > rank_p[1] else Compatibility.NARROWER
