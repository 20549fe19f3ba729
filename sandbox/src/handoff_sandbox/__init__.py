"""Emulators of the systems Handoff talks to, and the demo firm that plays a month against the hub.

Not part of the hub: the production wheel (``handoff``) carries none of this, and the hub never
imports it. The emulators (``odoo``, ``hubspot``, ``salesforce``) import nothing from ``handoff``
either; they sign what they send with their own code written from the providers' specs
(``handoff_sandbox.signing``), so a test can show the hub's verifiers accept what a system sends.
"""
