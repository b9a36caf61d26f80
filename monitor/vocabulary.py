"""The words incidents are described in: severities (lowest first) and statuses."""

SEVERITIES = ("info", "low", "medium", "high", "critical")
STATUSES = ("open", "acknowledged", "resolved", "false_positive")

# A case gathers the incidents of one offender (a registrable domain, or domains linked by shared operator evidence).
# new -> investigating -> notice_sent -> taken_down | no_action; a closed case that shows the material again reappears.
CASE_STATUSES = ("new", "investigating", "notice_sent", "taken_down", "no_action", "reappeared")
# Who a takedown notice is addressed to: the hosting provider's abuse desk, the registrar's, or the site itself.
NOTICE_RECIPIENTS = ("hosting", "registrar", "site")
