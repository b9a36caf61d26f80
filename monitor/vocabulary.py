"""The words incidents are described in: severities (lowest first) and statuses."""

SEVERITIES = ("info", "low", "medium", "high", "critical")
STATUSES = ("open", "acknowledged", "resolved", "false_positive")
