"""Webhook reception, an entry point next to the CLI and the admin API: every request's body is
bounded (``bodies``), its signature verified under its source's scheme, one row per source in
``table`` and one router factory (``router``) building every route; each source's handler turns
a signed body into inbox events (or a gate lifted) and nothing refused reaches the inbox."""
