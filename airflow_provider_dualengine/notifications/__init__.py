"""Airflow notifiers shipped with the provider (alerts reach people through any BaseNotifier)."""
