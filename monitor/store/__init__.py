"""The store: SQLite's only transaction owner. One ``apply`` for every probe kind; reads for the API and pages."""

from monitor.store.core import Applied, ProbeRun, Store, utcnow
from monitor.store.files import EvidenceFiles, StoredFile

__all__ = ["Applied", "EvidenceFiles", "ProbeRun", "Store", "StoredFile", "utcnow"]
