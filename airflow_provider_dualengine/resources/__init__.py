"""Resource management: each engine's allocation by environment and execution window
(pools, priority, session settings), the pools' state in a running Airflow, and the
execution plan with its estimates."""
