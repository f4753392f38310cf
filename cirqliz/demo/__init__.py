"""Demo data shipped with the package (zones of a fictitious Paris deployment)."""
