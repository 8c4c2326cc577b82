"""Where the lineage page puts each model: stages left to right in execution order,
dependency depth within a stage, no two boxes on top of each other."""

from __future__ import annotations

import itertools
import random

from airflow_provider_dualengine.ui.lineage_layout import COL_W, NODE_H, NODE_W, UNSTAGED, layout


def test_stages_go_left_to_right_and_depth_makes_columns_within_a_stage() -> None:
    nodes = ["sqlmesh:a", "sqlmesh:b", "sqlmesh:c", "dbt:d", "dbt:e"]
    edges = [("sqlmesh:a", "sqlmesh:b"), ("sqlmesh:b", "sqlmesh:c"), ("sqlmesh:c", "dbt:d"), ("dbt:d", "dbt:e")]
    stage = {"sqlmesh:a": "s1", "sqlmesh:b": "s1", "sqlmesh:c": "s1", "dbt:d": "s2", "dbt:e": "s2"}
    picture = layout(nodes, edges, stage, ["s1", "s2"])
    x = {n: picture.boxes[n].x for n in nodes}
    assert x["sqlmesh:b"] - x["sqlmesh:a"] == COL_W and x["sqlmesh:c"] - x["sqlmesh:b"] == COL_W
    assert x["dbt:d"] > x["sqlmesh:c"] and x["dbt:e"] - x["dbt:d"] == COL_W
    assert [band.name for band in picture.stages] == ["s1", "s2"]
    s1, s2 = picture.stages
    assert s1.x < x["sqlmesh:a"] and x["sqlmesh:c"] + NODE_W <= s1.x + s1.width < s2.x < x["dbt:d"]


def test_a_model_outside_every_stage_gets_its_own_band_last() -> None:
    picture = layout(["sqlmesh:a", "dbt:lonely"], [], {"sqlmesh:a": "s1"}, ["s1"])
    assert [band.name for band in picture.stages] == ["s1", UNSTAGED]
    assert picture.boxes["dbt:lonely"].x > picture.boxes["sqlmesh:a"].x


def test_no_two_boxes_overlap_and_the_picture_holds_them_all() -> None:
    rng = random.Random(7)
    nodes = [f"sqlmesh:m{i:03}" for i in range(120)]
    edges = [(nodes[i], nodes[j]) for j in range(1, 120) for i in rng.sample(range(j), min(j, 2))]
    stage = {n: f"s{int(n[-3:]) // 40}" for n in nodes}
    picture = layout(nodes, edges, stage, ["s0", "s1", "s2"])
    assert set(picture.boxes) == set(nodes)
    for a, b in itertools.combinations(picture.boxes.values(), 2):
        assert abs(a.x - b.x) >= NODE_W or abs(a.y - b.y) >= NODE_H
    assert all(box.x + NODE_W <= picture.width and box.y + NODE_H <= picture.height for box in picture.boxes.values())
    # every edge inside a stage points right
    for up, down in edges:
        if stage[up] == stage[down]:
            assert picture.boxes[down].x > picture.boxes[up].x


def test_edges_to_unknown_nodes_and_self_loops_are_ignored() -> None:
    picture = layout(["dbt:a"], [("dbt:a", "dbt:a"), ("dbt:ghost", "dbt:a")], {}, [])
    assert set(picture.boxes) == {"dbt:a"}
