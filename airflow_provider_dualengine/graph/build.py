"""Join the validated config with what each engine's project contains.

Every reference is checked here: `depends_on` names, cycles between stages, models
that are missing from their engine, and models placed in two stages.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from airflow_provider_dualengine.compiled.artifact import ArtifactProblem, read_artifact
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.engines.catalog import CatalogModel, ModelCatalog
from airflow_provider_dualengine.graph.lineage import ModelGraph, build_model_graph, node_id
from airflow_provider_dualengine.graph.model import Engine, ModelNode, StageNode, UnifiedGraph


def load_catalogs(project: Project) -> tuple[dict[Engine, ModelCatalog], list[ConfigIssue]]:
    """Both engines' model lists from the compiled artifact (never the engines themselves)."""
    fix = f"run `dualengine compile {project.root}` (loads SQLMesh and runs `dbt parse` once; DAG parsing never does), or `dualengine validate --compile`"
    try:
        artifact = read_artifact(project)
    except DualEngineConfigError as exc:  # another format version: the issue names the file and the fix
        return {}, exc.issues
    except ArtifactProblem as exc:
        return {}, [ConfigIssue(project.files["settings"], "compiled", str(exc), fix)]
    manifest = project.root / artifact.dbt.manifest
    if not manifest.is_file():  # Cosmos renders from it
        return {}, [
            ConfigIssue(project.files["settings"], "dbt.manifest", f"dbt manifest not found at {manifest}", fix)
        ]
    return artifact.catalogs(project.root, project.sqlmesh_path), []


def build_graph(project: Project, catalogs: dict[Engine, ModelCatalog] | None = None) -> UnifiedGraph:
    """Return the unified graph or raise DualEngineConfigError with every problem."""
    issues: list[ConfigIssue] = []
    if catalogs is None:
        catalogs, issues = load_catalogs(project)
    spec = project.graph_spec
    file = project.files["dependency_graph"]
    stage_names = set(spec.dependency_graph)
    inputs = set(spec.external_inputs)

    for name in stage_names & inputs:
        issues.append(
            ConfigIssue(
                file, f"external_inputs.{name}", f"'{name}' is both a stage and an external input", "rename one of them"
            )
        )

    placed: dict[tuple[Engine, str], str] = {}
    stages: dict[str, StageNode] = {}
    for stage_name, stage in spec.dependency_graph.items():
        for index, dep in enumerate(stage.depends_on):
            if dep not in stage_names and dep not in inputs:
                issues.append(
                    ConfigIssue(
                        file,
                        f"dependency_graph.{stage_name}.depends_on[{index}]",
                        f"'{dep}' is neither a stage nor a declared external input",
                        f"use one of the stages ({', '.join(sorted(stage_names - {stage_name}))}) or declare it under external_inputs",
                    )
                )
        models: dict[Engine, tuple[ModelNode, ...]] = {}
        for engine in Engine:
            names = stage.models_for(engine.value)
            list_key = "models" if stage.engine.value != "both" else f"{engine.value}_models"
            resolved = []
            for index, name in enumerate(names):
                key = f"dependency_graph.{stage_name}.{list_key}[{index}]"
                catalog = catalogs.get(engine)
                if catalog is None:
                    continue  # the missing catalog was already reported once
                found, reason = catalog.resolve(name)
                if found is None:
                    issues.append(
                        ConfigIssue(
                            file, key, reason, f"list a model defined in the {engine.value} project, or add the model"
                        )
                    )
                    continue
                previous = placed.get((engine, found.name))
                if previous is not None:
                    issues.append(
                        ConfigIssue(
                            file,
                            key,
                            f"{engine.value} model '{found.name}' is already in stage '{previous}'",
                            "a model runs in exactly one stage; remove one entry",
                        )
                    )
                    continue
                placed[(engine, found.name)] = stage_name
                resolved.append(
                    ModelNode(
                        engine=engine,
                        name=found.name,
                        unique_id=found.unique_id,
                        kind=found.kind,
                        depends_on=found.depends_on,
                        reads_tables=found.reads_tables,
                        columns=output_columns(found),
                        relation=found.relation,
                        reads_files=found.reads_files,
                    )
                )
            if resolved:
                models[engine] = tuple(resolved)
        stages[stage_name] = StageNode(
            name=stage_name,
            models=models,
            upstream_stages=tuple(d for d in stage.depends_on if d in stage_names),
            external_inputs=tuple(d for d in stage.depends_on if d in inputs and d not in stage_names),
            description=stage.description,
        )

    if project.settings.warehouse.type == "postgres" and Engine.SQLMESH in catalogs and Engine.DBT in catalogs:
        issues.extend(
            dbt_views_on_sqlmesh(
                catalogs,
                project.files["settings"],
                "SQLMesh's view swaps (DROP VIEW ... CASCADE) would drop it on PostgreSQL",
                project.dbt_path,
            )
        )
    order = _stage_order(stages, file, issues)
    model_graph = build_model_graph(catalogs, project.settings.dbt.schema_) if catalogs else ModelGraph()
    if not issues:
        issues.extend(_model_cycles(model_graph, file))
    if not issues:
        issues.extend(_reads_from_later_stages(model_graph, placed, stages, order, file))
    if issues:
        raise DualEngineConfigError(issues)
    return UnifiedGraph(
        stages={name: stages[name] for name in order},
        external_inputs=dict(spec.external_inputs),
        models_graph=model_graph,
    )


def _model_cycles(models: ModelGraph, file) -> list[ConfigIssue]:
    parents: dict = {key: set() for key in models.nodes}
    for edge in models.edges:
        parents.setdefault(edge.downstream, set()).add(edge.upstream)
    try:
        list(TopologicalSorter(parents).static_order())
    except CycleError as exc:
        members = list(reversed(exc.args[1]))
        where = " across engines" if len({k[0] for k in members}) > 1 else ""
        cycle = " -> ".join(node_id(k) for k in members)
        return [
            ConfigIssue(
                file,
                "dependency_graph",
                f"models read each other in a cycle{where}: {cycle}",
                "break the cycle: one of these models must stop reading the next",
            )
        ]
    return []


def _ancestors(stages: dict[str, StageNode], order: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(stage -> bit, stage -> bitmask of every stage that runs before it), in one pass over
    the stage order. Iterative and one int per stage: a chain of 5,000 stages would need
    12.5 million set entries (and recursion 5,000 deep) with plain sets."""
    bit = {name: 1 << index for index, name in enumerate(order)}
    before: dict[str, int] = {}
    for name in order:
        mask = 0
        for upstream in stages[name].upstream_stages:
            if upstream in before:
                mask |= before[upstream] | bit[upstream]
        before[name] = mask
    return bit, before


def _reads_from_later_stages(
    models: ModelGraph, placed: dict, stages: dict[str, StageNode], order: list[str], file
) -> list[ConfigIssue]:
    """A model must run in a stage that comes after the stage of every model it reads
    (or in the same stage, when the same engine orders the two)."""
    bit, before = _ancestors(stages, order)
    issues = []
    for edge in models.edges:
        up_stage, down_stage = placed.get(edge.upstream), placed.get(edge.downstream)
        if up_stage is None or down_stage is None:
            continue
        same_engine_same_stage = up_stage == down_stage and not edge.cross_engine
        if not same_engine_same_stage and not before[down_stage] & bit[up_stage]:
            where = (
                "the same stage, where the two engines run side by side"
                if up_stage == down_stage
                else f"stage '{up_stage}', which does not run before '{down_stage}'"
            )
            issues.append(
                ConfigIssue(
                    file,
                    f"dependency_graph.{down_stage}",
                    f"{node_id(edge.downstream)} (stage '{down_stage}') reads {node_id(edge.upstream)}, placed in {where}",
                    f"move {edge.downstream[1]} to a later stage, or {edge.upstream[1]} to an earlier one",
                )
            )
    return issues


def _stage_order(stages: dict[str, StageNode], file, issues: list[ConfigIssue]) -> list[str]:
    sorter = TopologicalSorter({name: set(stage.upstream_stages) for name, stage in stages.items()})
    try:
        return list(sorter.static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        path = " -> ".join(reversed(cycle))
        issues.append(
            ConfigIssue(
                file,
                f"dependency_graph.{cycle[0]}.depends_on",
                f"stages form a cycle: {path}",
                "remove one of these depends_on entries so stages run in one direction",
            )
        )
        return list(stages)


def dbt_views_on_sqlmesh(catalogs: dict[Engine, ModelCatalog], file, why: str, dbt_path=None) -> list[ConfigIssue]:
    """dbt views selecting from SQLMesh views, each an issue saying `why` they must be tables.

    On PostgreSQL SQLMesh swaps views with DROP VIEW ... CASCADE, silently dropping such
    views; in a blue-green deployment they would read the green SQLMesh environment, which
    the next deployment re-plans while the view is still live. With `dbt_path`, each issue
    names the model's own file instead of `file`."""
    sqlmesh_tables = set(catalogs[Engine.SQLMESH].models)
    issues = []
    for model in catalogs[Engine.DBT].models.values():
        reads = sorted((set(model.reads_tables) | set(model.engine_refs)) & sqlmesh_tables)
        if model.kind == "view" and reads:
            where = dbt_path / model.path if dbt_path is not None and model.path else file
            issues.append(
                ConfigIssue(
                    where,
                    f"dbt model {model.name}",
                    f"is a view reading SQLMesh model(s) {', '.join(reads)}; {why}",
                    "materialize it as a table (or incremental)",
                )
            )
    return issues


def output_columns(model: CatalogModel) -> tuple[tuple[str, str], ...]:
    """The model's columns for lineage and Assets: declared ones with their declared type
    (else the inferred one), then columns only inference knows."""
    inferred = {c.lower(): t for c, t in model.inferred_types.items()}
    declared = [(c, t or inferred.pop(c.lower(), "")) for c, t in model.columns.items()]
    known = {c.lower() for c, _ in declared}
    return (*declared, *((c, t) for c, t in inferred.items() if c not in known))
