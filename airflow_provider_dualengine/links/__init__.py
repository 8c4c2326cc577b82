"""Operator extra links (Airflow provider convention: `links/`)."""
