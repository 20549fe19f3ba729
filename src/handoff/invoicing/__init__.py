"""Delivery to cash: billing proposals from what Odoo says is delivered, invoices through the sale
order, invoice and payment status back to the CRM, business monitors."""
