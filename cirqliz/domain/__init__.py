"""The business model in pure Python: no web framework, no database."""
