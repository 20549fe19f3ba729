"""Billing: the Odoo product setup per contract type, money, units and the billing engine (pure
functions). The delivery plan that uses the product setup is ``handoff.delivery.plan``."""
