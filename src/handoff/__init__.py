"""Handoff: governed, observable synchronisation between CRMs, delivery tools and Odoo."""

__version__ = "0.1.0"
