"""Format adapters that write zones for other systems (no database, no web)."""

from cirqliz.exports.datex2 import export_datex2
from cirqliz.exports.zfe import ExportFileError, export_zfe

__all__ = ["ExportFileError", "export_datex2", "export_zfe"]
