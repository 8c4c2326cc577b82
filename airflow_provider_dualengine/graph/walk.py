"""The one breadth-first walk of the graph layer: models downstream of a model, columns
downstream of a column. Iterative, so a chain thousands of nodes deep is no problem."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def children_of(pairs: Iterable[tuple[Node, Node]]) -> dict[Node, list[Node]]:
    """parent -> children, in the order the (parent, child) pairs come."""
    children: dict[Node, list[Node]] = {}
    for parent, child in pairs:
        children.setdefault(parent, []).append(child)
    return children


def breadth_first(start: Node, children: Mapping[Node, Sequence[Node]]) -> list[Node]:
    """Every node reachable from `start` (not `start` itself), nearest first, each once."""
    seen, queue, order = {start}, deque(children.get(start, ())), []
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        queue.extend(children.get(node, ()))
    return order
