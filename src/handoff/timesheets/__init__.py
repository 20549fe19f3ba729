"""Time and expense entries from a time-tracking / PSA source (signed webhook, file drop) into the
hub's inbox, and, once approved and billable, into Odoo as timesheets and re-invoiced expenses.

- ``records``: raw items -> canonical ``TimeEntry`` / ``Expense`` with per-item errors, and the
  inbox events they become (one per entry revision, ordered per entry).
- ``files``: CSV / JSON file drop, validated as a whole before anything is submitted.
- ``webhook``: ``POST /webhooks/time``, HMAC-SHA256 signed by the ``timetracker`` system's secret.
- ``push``: the Odoo roles the ``time_entry`` flow sequences.
"""
