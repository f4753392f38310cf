"""Format adapters that read open-data files into plain records (no database, no web).

Every importer takes bytes or text and returns an ImportBatch (records + per-item problems); it
raises ImportFileError (a DomainError) only when the file as a whole cannot be read.
"""

from cirqliz.imports.cerema import import_cerema
from cirqliz.imports.datex2 import import_datex2
from cirqliz.imports.ical import import_ical
from cirqliz.imports.perimeters import PerimeterMapping, import_perimeters, parse_pp_datetime
from cirqliz.imports.records import (
    EventRecord,
    ImportBatch,
    ImportFileError,
    Problem,
    TrafficOrderRecord,
    ZoneRecord,
)
from cirqliz.imports.zfe import import_zfe

__all__ = [
    "EventRecord",
    "ImportBatch",
    "ImportFileError",
    "PerimeterMapping",
    "Problem",
    "TrafficOrderRecord",
    "ZoneRecord",
    "import_cerema",
    "import_datex2",
    "import_ical",
    "import_perimeters",
    "import_zfe",
    "parse_pp_datetime",
]
