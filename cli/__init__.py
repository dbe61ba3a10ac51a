"""The `simctl` command line."""
