"""The built-in scenario pack (YAML files) and the scenario JSON Schema: data, no code."""
