"""Child process for the crash test: upsert one partner, SIGKILL itself the moment Odoo answered.

The kill happens inside an httpx response hook, right after the body of the record-creating call
(``load``) has arrived and before the adapter sees the result, i.e. "created in Odoo, binding not
saved". Usage: python upsert_crash_child.py URL DB LOGIN SECRET EXTERNAL_ID NAME
"""

from __future__ import annotations

import json
import os
import signal
import sys

import httpx

from handoff.connectors.odoo import OdooAdapter, OdooClient

CREATING_METHODS = {"load", "create"}


def kill_after_creating_call(response: httpx.Response) -> None:
    body = json.loads(response.request.content)
    params = body.get("params", {})
    method = params.get("args", [None] * 5)[4] if params.get("method") == "execute_kw" else None
    if method in CREATING_METHODS and params["args"][3] != "ir.model.data":
        response.read()
        sys.stdout.write("created, killing myself\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    url, db, login, secret, external_id, name = sys.argv[1:7]
    client = OdooClient(
        url, db, login, secret, event_hooks={"response": [kill_after_creating_call]}
    )
    OdooAdapter(client).upsert(
        "res.partner", "crm", external_id, {"name": name, "is_company": True}
    )
    sys.stdout.write("upsert returned: the kill did not happen\n")


if __name__ == "__main__":
    main()
