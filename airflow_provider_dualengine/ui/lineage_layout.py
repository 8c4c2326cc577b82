"""Where each model sits in the lineage picture: stages left to right in execution order,
inside a stage one column per dependency depth, rows ordered to keep edges short.

Computed on the server with each page (about 30 ms for 1,000 models), so the browser only
draws a finished SVG (0.25 s in Chromium; benchmarks/ui_lineage_render.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NODE_W, NODE_H = 210, 22
COL_W, ROW_H = 250, 30
STAGE_GAP, TOP, LEFT = 30, 40, 20
UNSTAGED = "not in a stage"


@dataclass(frozen=True)
class Box:
    x: float
    y: float


@dataclass(frozen=True)
class StageBand:
    name: str
    x: float
    width: float


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    stages: list[StageBand]
    width: float
    height: float


def layout(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str]],
    stage_of: Mapping[str, str],
    stage_order: Sequence[str],
) -> Layout:
    """Boxes for `nodes` (ids), given upstream->downstream `edges` and each node's stage."""
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    known = set(nodes)
    for up, down in edges:
        if up in known and down in known and up != down:
            preds[down].append(up)
            succs[up].append(down)
    order = _topological(nodes, preds, succs)
    stages = [*stage_order, UNSTAGED]
    stage = {n: stage_of.get(n, UNSTAGED) for n in nodes}
    depth: dict[str, int] = {}
    for n in order:  # longest path from the stage's own roots
        depth[n] = max((depth[p] + 1 for p in preds[n] if stage[p] == stage[n] and p in depth), default=0)
    columns: dict[tuple[str, int], list[str]] = defaultdict(list)
    for n in sorted(nodes):
        columns[(stage[n], depth[n])].append(n)
    boxes: dict[str, Box] = {}
    bands: list[StageBand] = []
    x = LEFT
    height = 0.0
    for name in stages:
        width = max((d + 1 for (s, d) in columns if s == name), default=0)
        if not width:
            continue
        for d in range(width):
            column = columns[(name, d)]
            column.sort(key=lambda n: (_barycentre(n, preds, boxes), n))
            for row, n in enumerate(column):
                boxes[n] = Box(x + d * COL_W, TOP + row * ROW_H)
            height = max(height, TOP + len(column) * ROW_H)
        band_width = (width - 1) * COL_W + NODE_W + 20
        bands.append(StageBand(name, x - 10, band_width))
        x += width * COL_W + STAGE_GAP
    return Layout(boxes, bands, x, height + 20)


def _barycentre(node: str, preds: Mapping[str, list[str]], placed: Mapping[str, Box]) -> float:
    ys = [placed[p].y for p in preds.get(node, ()) if p in placed]
    return sum(ys) / len(ys) if ys else float("inf")


def _topological(nodes: Sequence[str], preds: Mapping[str, list[str]], succs: Mapping[str, list[str]]) -> list[str]:
    """Kahn's order; nodes left over by a cycle (never in a valid project) come last."""
    waiting = {n: len(preds.get(n, ())) for n in nodes}
    ready = sorted(n for n, count in waiting.items() if count == 0)
    order: list[str] = []
    while ready:
        n = ready.pop()
        order.append(n)
        for s in succs.get(n, ()):
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    seen = set(order)
    return order + [n for n in nodes if n not in seen]
