"""Child process for the crash test of ``create_bound_many``: create timesheets with their
references, SIGKILL itself the moment Odoo answered the ``create``, before the ``ir.model.data``
``create`` that binds them ("created in Odoo, external ids not saved").

Usage: python create_bound_crash_child.py URL DB LOGIN SECRET PROJECT EMPLOYEE KEY [KEY ...]
"""

from __future__ import annotations

import json
import os
import signal
import sys

import httpx

from handoff.connectors.odoo import OdooAdapter, OdooClient


def kill_after_create(response: httpx.Response) -> None:
    body = json.loads(response.request.content)
    params = body.get("params", {})
    args = params.get("args", [None] * 5) if params.get("method") == "execute_kw" else [None] * 5
    if args[4] == "create" and args[3] == "account.analytic.line":
        response.read()
        sys.stdout.write("created, killing myself\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    url, db, login, secret, project, employee, *keys = sys.argv[1:]
    client = OdooClient(url, db, login, secret, event_hooks={"response": [kill_after_create]})
    OdooAdapter(client).create_bound_many(
        "account.analytic.line",
        "timetracker",
        [
            (
                key,
                {
                    "name": f"crash {key}",
                    "project_id": int(project),
                    "employee_id": int(employee),
                    "unit_amount": 1.5,
                    "date": "2026-11-02",
                },
            )
            for key in keys
        ],
        "ref",
    )
    sys.stdout.write("create_bound_many returned: the kill did not happen\n")


if __name__ == "__main__":
    main()
