"""Host intel: who runs and hosts a domain (DNS, RDAP for the domain and its addresses, the TLS certificate)."""

from monitor.intel.lookup import IntelLookup, registrable_domain
from monitor.intel.model import carry_forward, diff, error_summary, links

__all__ = ["IntelLookup", "carry_forward", "diff", "error_summary", "links", "registrable_domain"]
