"""SQLMesh engine: model discovery, Context construction, plan summaries."""
