"""Billing: the Odoo product setup and billing plan per contract type (pure functions)."""
