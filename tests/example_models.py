"""The example project's models (transforms/), as the end-to-end tests expect to find them built."""

EXAMPLE_SQLMESH_MODELS = [
    "raw.raw_customers",
    "raw.raw_orders",
    "staging.stg_orders",
    "staging.customer_enhanced",
    "intermediate.customer_lifetime",
    "reporting.value_band_summary",
]
EXAMPLE_DBT_MODELS = ["stg_customers", "stg_completed_orders", "customer_order_summary", "customer_value"]
