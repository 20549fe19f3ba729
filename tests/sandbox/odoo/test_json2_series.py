"""The sandbox's series switch over real HTTP: 18 has no JSON-2, 19 serves it as recorded.

18 answers are the ones measured on a real Odoo 18.0-20250421 on loopback (``/json/<path>`` is the
web client's ``auth='user'`` route there: 303 to the login page; ``/web/version`` does not exist;
``db.*`` public methods); 19 answers are those of ``shared/odoo19/transcripts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox

CONTRACT = Path(__file__).resolve().parents[2] / "contract"
ODOO18 = CONTRACT / "odoo" / "transcripts"
ODOO19 = CONTRACT / "odoo19" / "transcripts"


@pytest.fixture(scope="module")
def odoo18() -> Iterator[RunningSandbox]:
    with running_odoo_sandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def odoo19() -> Iterator[RunningSandbox]:
    with running_odoo_sandbox(series=19) as sandbox:
        yield sandbox


def rpc(url: str, service: str, method: str, *args: Any) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 7,
        "params": {"service": service, "method": method, "args": list(args)},
    }
    return httpx.post(f"{url}/jsonrpc", json=body).json()


def test_18_has_no_json2_and_answers_like_a_real_18(odoo18: RunningSandbox) -> None:
    assert rpc(odoo18.url, "common", "version")["result"]["server_serie"] == "18.0"
    answer = httpx.post(
        f"{odoo18.url}/json/2/res.partner/search_count",
        json={"domain": []},
        headers={"Authorization": f"bearer {odoo18.api_key}", "X-Odoo-Database": "psa"},
    )
    target = "/web/login?redirect=%2Fjson%2F2%2Fres.partner%2Fsearch_count%3F"
    assert answer.status_code == 303
    assert answer.headers["location"] == target
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.text == (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
        "<p>You should be redirected automatically to the target URL: "
        f'<a href="{target}">{target}</a>. If not, click the link.\n'
    )
    assert httpx.get(f"{odoo18.url}/web/version").status_code == 404
    assert httpx.get(f"{odoo18.url}/doc-bearer/res.partner.json").status_code == 404


def test_19_claims_the_recorded_version_everywhere(odoo19: RunningSandbox) -> None:
    recorded = json.loads((ODOO19 / "version.json").read_text())
    web = {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0+e-20251227"}
    for path in ("/web/version", "/json/version"):
        answer = httpx.get(f"{odoo19.url}{path}")
        assert (answer.status_code, answer.json()) == (200, web)
    assert rpc(odoo19.url, "common", "version")["result"] == {
        "server_version": "19.0+e-20251227",
        "server_version_info": [19, 0, 0, "final", 0, ""],
        "server_serie": "19.0",
        "protocol_version": 1,
    }
    assert rpc(odoo19.url, "db", "server_version")["result"] == "19.0+e-20251227"
    assert recorded["exchanges"][0]["response"] == web


def test_19_json2_bearer_key_named_arguments_and_statuses(odoo19: RunningSandbox) -> None:
    url = f"{odoo19.url}/json/2/res.partner"
    headers = {"Authorization": f"Bearer {odoo19.api_key}"}  # scheme is case-insensitive
    created = httpx.post(f"{url}/create", headers=headers, json={"vals_list": {"name": "J2"}})
    assert created.status_code == 200
    [new_id] = created.json()  # a bare dict also creates a list of one id
    read = httpx.post(f"{url}/read", headers=headers, json={"ids": [new_id], "fields": ["name"]})
    assert read.json() == [{"id": new_id, "name": "J2"}]
    assert read.headers["x-content-type-options"] == "nosniff"
    refused = {
        "vals": (
            httpx.post(f"{url}/create", headers=headers, json={"vals": {"name": "x"}}),
            422,
            "werkzeug.exceptions.UnprocessableEntity",
            "missing a required argument: 'vals_list'",
        ),
        "args": (
            httpx.post(
                f"{url}/search_read",
                headers=headers,
                json={"args": [[["id", "=", 1]]], "fields": ["name"]},
            ),
            500,
            "builtins.TypeError",
            "BaseModel._read_format() got an unexpected keyword argument 'args'",
        ),
        "required": (
            httpx.post(
                f"{url}/create", headers=headers, json={"vals_list": [{"email": "x@example.com"}]}
            ),
            422,
            "odoo.exceptions.ValidationError",
            None,
        ),
        "key": (
            httpx.post(
                f"{url}/search", headers={"Authorization": "bearer nope"}, json={"domain": []}
            ),
            401,
            "werkzeug.exceptions.Unauthorized",
            "Invalid apikey",
        ),
        "basic": (
            httpx.post(
                f"{url}/search",
                headers={"Authorization": "Basic YWRtaW46YWRtaW4="},
                json={"domain": []},
            ),
            401,
            "werkzeug.exceptions.Unauthorized",
            "User not authenticated, use an API Key with a Bearer Authorization header.",
        ),
        "deleted": (
            httpx.post(
                f"{url}/write", headers=headers, json={"ids": [999999], "vals": {"name": "ghost"}}
            ),
            404,
            "odoo.exceptions.MissingError",
            None,
        ),
    }
    for case, (answer, status, name, message) in refused.items():
        body = answer.json()
        assert (case, answer.status_code, body["name"]) == (case, status, name)
        assert set(body) == {"name", "message", "arguments", "context", "debug"}
        if message is not None:
            assert body["message"] == message
    # "Bearer " on the wire; HTTP clients trim the optional trailing whitespace (RFC 9110 5.5)
    assert refused["key"][0].headers["www-authenticate"] == "Bearer"
    unknown_db = httpx.post(
        f"{url}/search_count",
        json={"domain": []},
        headers={**headers, "X-Odoo-Database": "nosuchdb"},
    )
    assert (unknown_db.status_code, unknown_db.headers["content-type"]) == (
        404,
        "text/html; charset=utf-8",
    )
    assert "No database is selected" in unknown_db.text


def test_19_speaks_19_field_names(odoo19: RunningSandbox) -> None:
    url = f"{odoo19.url}/json/2"
    headers = {"Authorization": f"bearer {odoo19.api_key}"}
    described = httpx.post(
        f"{url}/sale.order.line/fields_get", headers=headers, json={"attributes": ["type"]}
    ).json()
    assert {"product_uom_id", "tax_ids"} <= set(described)
    assert not {"product_uom", "tax_id"} & set(described)
    assert (
        "mobile"
        not in httpx.post(
            f"{url}/res.partner/fields_get", headers=headers, json={"attributes": ["type"]}
        ).json()
    )
    gone = httpx.post(f"{url}/hr.expense.sheet/search_read", headers=headers, json={})
    assert (gone.status_code, gone.json()["message"]) == (
        404,
        "the model 'hr.expense.sheet' does not exist",
    )
    old_name = httpx.post(
        f"{url}/sale.order.line/search_read",
        headers=headers,
        json={"domain": [], "fields": ["tax_id"]},
    )
    assert (old_name.status_code, old_name.json()["message"]) == (
        500,
        "Invalid field 'tax_id' on 'sale.order.line'",
    )


def test_public_db_and_common_methods_as_odoo_18_answers(odoo18: RunningSandbox) -> None:
    url = odoo18.url
    assert rpc(url, "db", "db_exist", "psa")["result"] is True
    assert rpc(url, "db", "db_exist", "nosuchdb")["result"] is False
    assert rpc(url, "db", "list")["result"] == ["psa"]
    languages = rpc(url, "db", "list_lang")["result"]
    assert len(languages) == 92 and languages[0] == ["sq_AL", "Albanian / Shqip"]
    assert ["en_US", "English (US)"] in languages
    assert rpc(url, "db", "server_version")["result"] == "18.0-20250421"
    assert rpc(url, "common", "about")["result"] == "See http://openerp.com"
    assert rpc(url, "common", "about", True)["result"] == [
        "See http://openerp.com",
        "18.0-20250421",
    ]
    refused = rpc(url, "db", "drop", "wrong-master-password", "psa")["error"]["data"]
    assert refused["name"] == "odoo.exceptions.AccessDenied"
    unknown = rpc(url, "db", "no_such")["error"]["data"]
    assert (unknown["name"], unknown["message"]) == (
        "builtins.KeyError",
        "Method not found: no_such",
    )
    unknown = rpc(url, "common", "no_such")["error"]["data"]
    assert (unknown["name"], unknown["message"]) == (
        "builtins.Exception",
        "Method not found: no_such",
    )


def test_a_method_returning_none_has_no_result_key(odoo18: RunningSandbox) -> None:
    """Defect 8, sandbox side: the recorded exchange, replayed byte for byte."""
    transcript = json.loads((ODOO18 / "result_omitted_when_none.json").read_text())
    for exchange in transcript["exchanges"]:
        answer = httpx.post(f"{odoo18.url}/jsonrpc", json=exchange["request"])
        assert answer.json() == exchange["response"]
