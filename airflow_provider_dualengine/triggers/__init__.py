"""Deferrable triggers (SQLMesh interval freshness lands here; see the issues)."""
