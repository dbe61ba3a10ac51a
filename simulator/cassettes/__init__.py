"""Cassettes: the format, loading and writing, matching, redaction, and the tools around them."""
