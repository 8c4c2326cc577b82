"""Data contracts across engines: static compatibility (before deploy), run-time
enforcement in the warehouse, and breaking-change detection between versions.
The contract files themselves are read by `airflow_provider_dualengine.config.contracts`."""
