"""Which engine for which model: selection rules, layers and domains, naming, unified docs."""
