"""Published open-data reference files (ZFE and Cerema schemas, DATEX II XSDs): pins, status, fetch."""

from cirqliz.opendata.files import (
    BUILTIN,
    PUBLISHED,
    PUBLISHED_FILES,
    FormatStatus,
    OpenDataStatus,
    opendata_status,
    published_folder,
)

__all__ = ["BUILTIN", "PUBLISHED", "PUBLISHED_FILES", "FormatStatus", "OpenDataStatus", "opendata_status",
           "published_folder"]
