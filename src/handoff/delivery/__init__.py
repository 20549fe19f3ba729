"""Deal to delivery: the rules a won deal must pass before anything is written to Odoo.

- ``reference``: ``OdooReference``, a snapshot of what the configuration refers to in Odoo, and
  ``load_reference`` which reads it in a few batched calls;
- ``validation``: ``validate_deal`` (pure) -> every ``Problem``; ``check_deal`` raises the one
  exception that lists them all;
- ``problems``: ``Problem``, ``problems_to_error``, ``deal_reference``.

The plan of what to write is ``handoff.delivery.plan.plan_delivery``.
"""

from .problems import DEAL_VALIDATION_RULE, Problem, deal_reference, problems_to_error
from .reference import OdooReference, load_reference
from .validation import check_deal, validate_deal

__all__ = [
    "DEAL_VALIDATION_RULE",
    "OdooReference",
    "Problem",
    "check_deal",
    "deal_reference",
    "load_reference",
    "problems_to_error",
    "validate_deal",
]
