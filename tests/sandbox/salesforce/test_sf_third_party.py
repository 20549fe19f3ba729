"""What third-party Salesforce clients (Singer taps, Airbyte, dlt) call, over real HTTPS.

SOQL datetime literals as they write them, the OAuth grants they use (web server flow with a
refresh token, refresh, revoke, client credentials) and Bulk API 2.0 query jobs.
"""

from __future__ import annotations

import base64
import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from handoff_sandbox.salesforce.testing import RunningSalesforceSandbox


def _token(sandbox: RunningSalesforceSandbox, **form: str) -> requests.Response:
    return sandbox.requests_session().post(f"{sandbox.url}/services/oauth2/token", data=form)


def _password_login(sandbox: RunningSalesforceSandbox) -> dict[str, Any]:
    response = _token(
        sandbox,
        grant_type="password",
        client_id=sandbox.consumer_key,
        client_secret=sandbox.consumer_secret,
        username=sandbox.username,
        password=sandbox.password + sandbox.security_token,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class Rest:
    def __init__(self, sandbox: RunningSalesforceSandbox, token: str | None = None) -> None:
        self.session = sandbox.requests_session()
        self.session.headers["Authorization"] = (
            f"Bearer {token or _password_login(sandbox)['access_token']}"
        )
        self.base = f"{sandbox.url}/services/data/v{sandbox.api_version}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params)

    def query(self, soql: str) -> requests.Response:
        return self.get("/query", q=soql)


@pytest.fixture(scope="module")
def rest(sandbox: RunningSalesforceSandbox) -> Rest:
    return Rest(sandbox)


# -- SOQL literals ------------------------------------------------------------------------------


def test_soql_accepts_six_fractional_digits_and_offsets(rest: Rest) -> None:
    # tap-salesforce and Airbyte write bookmarks with microseconds (…​.123456Z / +00:00).
    everything = rest.query("SELECT Id, SystemModstamp FROM Account")
    assert everything.status_code == 200, everything.text
    stamps = sorted(r["SystemModstamp"] for r in everything.json()["records"])
    newest = datetime.strptime(stamps[-1], "%Y-%m-%dT%H:%M:%S.%f%z")
    before = (newest - timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    after = (newest + timedelta(microseconds=1)).astimezone(UTC)
    for literal in (
        before,
        (newest - timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
        (newest - timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+0000"),
        (newest - timedelta(microseconds=1)).astimezone(timezone_plus_two()).isoformat(),
    ):
        found = rest.query(f"SELECT Id FROM Account WHERE SystemModstamp > {literal}")
        assert found.status_code == 200, (literal, found.text)
        assert found.json()["totalSize"] >= 1, literal
    later = rest.query(
        f"SELECT Id FROM Account WHERE SystemModstamp > {after.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
    )
    assert later.status_code == 200 and later.json()["totalSize"] == 0
    # A millisecond value never equals a microsecond literal, but >= at the same millisecond works.
    exact_ms = newest.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "000Z"
    assert (
        rest.query(f"SELECT Id FROM Account WHERE SystemModstamp >= {exact_ms}").json()["totalSize"]
        >= 1
    )
    seven = rest.query("SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00.1234567Z")
    assert seven.status_code == 400 and seven.json()[0]["errorCode"] == "MALFORMED_QUERY"


def timezone_plus_two() -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_soql_date_literals(rest: Rest) -> None:
    for keyword in (
        "TODAY", "LAST_N_DAYS:3", "N_DAYS_AGO:0", "LAST_90_DAYS", "THIS_WEEK", "THIS_MONTH", "THIS_YEAR"
    ):  # fmt: skip
        found = rest.query(f"SELECT Id FROM Account WHERE CreatedDate = {keyword}")
        assert found.status_code == 200, (keyword, found.text)
        assert found.json()["totalSize"] >= 8, keyword
    for keyword in ("YESTERDAY", "LAST_WEEK", "NEXT_MONTH", "LAST_YEAR", "N_DAYS_AGO:2"):
        found = rest.query(f"SELECT Id FROM Account WHERE CreatedDate = {keyword}")
        assert found.status_code == 200 and found.json()["totalSize"] == 0, keyword
    unknown = rest.query("SELECT Id FROM Account WHERE CreatedDate = SOMEDAY")
    assert unknown.status_code == 400


# -- OAuth ---------------------------------------------------------------------------------------


def _authorize(sandbox: RunningSalesforceSandbox) -> str:
    response = sandbox.requests_session().get(
        f"{sandbox.url}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": sandbox.consumer_key,
            "redirect_uri": sandbox.config.callback_url,
            "state": "xyz",
        },
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == sandbox.config.callback_url
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def test_web_server_flow_gives_a_refresh_token_that_refreshes(
    sandbox: RunningSalesforceSandbox,
) -> None:
    code = _authorize(sandbox)
    exchanged = _token(
        sandbox,
        grant_type="authorization_code",
        code=code,
        client_id=sandbox.consumer_key,
        client_secret=sandbox.consumer_secret,
        redirect_uri=sandbox.config.callback_url,
    )
    assert exchanged.status_code == 200, exchanged.text
    grant = exchanged.json()
    assert grant["refresh_token"] and grant["token_type"] == "Bearer"
    assert {"access_token", "instance_url", "id", "issued_at", "signature", "scope"} <= set(grant)
    # A code is single-use.
    again = _token(
        sandbox,
        grant_type="authorization_code",
        code=code,
        client_id=sandbox.consumer_key,
        client_secret=sandbox.consumer_secret,
        redirect_uri=sandbox.config.callback_url,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    refreshed = _token(
        sandbox,
        grant_type="refresh_token",
        refresh_token=grant["refresh_token"],
        client_id=sandbox.consumer_key,
        client_secret=sandbox.consumer_secret,
    )
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["access_token"] != grant["access_token"]
    assert "refresh_token" not in body  # Salesforce keeps the refresh token (no rotation)
    assert body["instance_url"] == sandbox.url and body["token_type"] == "Bearer"
    assert (
        Rest(sandbox, body["access_token"]).query("SELECT Id FROM Account LIMIT 1").status_code
        == 200
    )


def test_unknown_or_revoked_refresh_token_is_invalid_grant(
    sandbox: RunningSalesforceSandbox,
) -> None:
    expected = {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    unknown = _token(
        sandbox,
        grant_type="refresh_token",
        refresh_token="5Aep861nope",
        client_id=sandbox.consumer_key,
    )
    assert unknown.status_code == 400 and unknown.json() == expected

    refresh_token = sandbox.issue_refresh_token()
    first = _token(
        sandbox,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id=sandbox.consumer_key,
    )
    assert first.status_code == 200, first.text
    access_token = first.json()["access_token"]
    revoked = sandbox.requests_session().post(
        f"{sandbox.url}/services/oauth2/revoke", data={"token": refresh_token}
    )
    assert revoked.status_code == 200
    after = _token(
        sandbox,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id=sandbox.consumer_key,
    )
    assert after.status_code == 400 and after.json() == expected
    # Revoking the refresh token also ends the sessions it opened.
    ended = Rest(sandbox, access_token).query("SELECT Id FROM Account LIMIT 1")
    assert ended.status_code == 401 and ended.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_grant_errors_use_salesforce_codes(sandbox: RunningSalesforceSandbox) -> None:
    wrong_client = _token(sandbox, grant_type="refresh_token", refresh_token="x", client_id="nope")
    assert wrong_client.json()["error"] == "invalid_client_id"
    bad_code = _token(
        sandbox,
        grant_type="authorization_code",
        code="nope",
        client_id=sandbox.consumer_key,
        client_secret=sandbox.consumer_secret,
        redirect_uri=sandbox.config.callback_url,
    )
    assert bad_code.status_code == 400 and bad_code.json()["error"] == "invalid_grant"
    for grant in ("urn:nope", ""):
        unsupported = _token(sandbox, grant_type=grant)
        assert unsupported.status_code == 400
        assert unsupported.json() == {
            "error": "unsupported_grant_type",
            "error_description": "grant type not supported",
        }
    mismatch = sandbox.requests_session().get(
        f"{sandbox.url}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": sandbox.consumer_key,
            "redirect_uri": "http://evil/",
        },
        allow_redirects=False,
    )
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "redirect_uri_mismatch"


def test_password_and_client_credentials_flows_give_no_refresh_token(
    sandbox: RunningSalesforceSandbox,
) -> None:
    # Salesforce issues no refresh token in the username-password, JWT bearer and client
    # credentials flows; only the web server (and device / user-agent) flows do.
    assert "refresh_token" not in _password_login(sandbox)
    import jwt

    assertion = jwt.encode(
        {
            "iss": sandbox.consumer_key,
            "sub": sandbox.username,
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 60,
        },
        sandbox.private_key_pem,
        algorithm="RS256",
    )
    jwt_login = _token(
        sandbox, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=assertion
    )
    assert jwt_login.status_code == 200, jwt_login.text
    assert "refresh_token" not in jwt_login.json()
    credentials = _token(
        sandbox,
        grant_type="client_credentials",
        client_id=sandbox.consumer_key,
        client_secret=sandbox.consumer_secret,
    )
    assert credentials.status_code == 200, credentials.text
    assert "refresh_token" not in credentials.json()
    wrong_secret = _token(
        sandbox, grant_type="client_credentials", client_id=sandbox.consumer_key, client_secret="no"
    )
    assert wrong_secret.status_code == 400 and wrong_secret.json()["error"] == "invalid_client"


# -- Bulk API 2.0 query jobs ---------------------------------------------------------------------


def _create_job(rest: Rest, soql: str, **extra: str) -> requests.Response:
    return rest.session.post(
        f"{rest.base}/jobs/query", json={"operation": "query", "query": soql, **extra}
    )


def _wait_complete(rest: Rest, job_id: str) -> list[str]:
    states = []
    for _ in range(20):
        info = rest.get(f"/jobs/query/{job_id}").json()
        states.append(info["state"])
        if info["state"] == "JobComplete":
            return states
        time.sleep(0.01)
    raise AssertionError(states)


def test_bulk_query_job_lifecycle_and_csv_paging(rest: Rest) -> None:
    soql = "SELECT Id, Name, Account.Name, Amount, IsWon, CloseDate, SystemModstamp FROM Opportunity ORDER BY Name"
    created = _create_job(rest, soql)
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["id"].startswith("750") and job["state"] == "UploadComplete"
    assert job["operation"] == "query" and job["object"] == "Opportunity"
    assert (
        job["contentType"] == "CSV"
        and job["lineEnding"] == "LF"
        and job["columnDelimiter"] == "COMMA"
    )
    assert job["createdById"].startswith("005") and isinstance(job["apiVersion"], float)

    early = rest.get(f"/jobs/query/{job['id']}/results")
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert _wait_complete(rest, job["id"]) == ["InProgress", "JobComplete"]
    info = rest.get(f"/jobs/query/{job['id']}").json()
    assert (
        info["jobType"] == "V2Query"
        and info["numberRecordsProcessed"] >= 8
        and info["retries"] == 0
    )

    expected = rest.query(soql).json()["records"]
    rows: list[dict[str, str]] = []
    locator = ""
    pages = 0
    while True:
        params: dict[str, Any] = {"maxRecords": 5}
        if locator:
            params["locator"] = locator
        page = rest.get(f"/jobs/query/{job['id']}/results", **params)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/csv")
        chunk = list(csv.DictReader(io.StringIO(page.text)))
        assert int(page.headers["Sforce-NumberOfRecords"]) == len(chunk) <= 5
        assert page.text.startswith('"Id","Name","Account.Name","Amount"')
        rows += chunk
        pages += 1
        locator = page.headers["Sforce-Locator"]
        if locator == "null":
            break
        assert base64.b64decode(locator + "==").decode() == str(len(rows))
    assert pages == -(-len(expected) // 5)
    assert [r["Id"] for r in rows] == [r["Id"] for r in expected]
    first, want = rows[0], expected[0]
    assert first["Account.Name"] == want["Account"]["Name"]
    assert first["IsWon"] == str(want["IsWon"]).lower()
    assert first["CloseDate"] == want["CloseDate"]
    assert first["SystemModstamp"] == want["SystemModstamp"].replace("+0000", "Z")
    assert float(first["Amount"]) == want["Amount"]


def test_bulk_query_all_delimiters_list_abort_delete(
    rest: Rest, sandbox: RunningSalesforceSandbox
) -> None:
    created = rest.session.post(
        f"{rest.base}/jobs/query",
        json={
            "operation": "queryAll",
            "query": "SELECT Id, Name FROM Account",
            "columnDelimiter": "PIPE",
            "lineEnding": "CRLF",
        },
    ).json()
    _wait_complete(rest, created["id"])
    text = rest.get(f"/jobs/query/{created['id']}/results").text
    assert text.startswith('"Id"|"Name"\r\n')

    pending = _create_job(rest, "SELECT Id FROM Contact").json()
    listing = rest.get("/jobs/query").json()
    assert listing["done"] is True and listing["nextRecordsUrl"] is None
    ids = {job["id"] for job in listing["records"]}
    assert {created["id"], pending["id"]} <= ids
    assert all(job["jobType"] == "V2Query" for job in listing["records"])
    assert rest.get("/jobs/query", jobType="Classic").json()["records"] == []

    busy = rest.session.delete(f"{rest.base}/jobs/query/{pending['id']}")
    assert busy.status_code == 400 and busy.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    aborted = rest.session.patch(
        f"{rest.base}/jobs/query/{pending['id']}", json={"state": "Aborted"}
    )
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    again = rest.session.patch(f"{rest.base}/jobs/query/{created['id']}", json={"state": "Aborted"})
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    for job_id in (pending["id"], created["id"]):
        assert rest.session.delete(f"{rest.base}/jobs/query/{job_id}").status_code == 204
        gone = rest.get(f"/jobs/query/{job_id}")
        assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"operation": "query", "query": "SELECT Nope FROM Account"}, "INVALID_FIELD"),
        ({"operation": "query", "query": "SELECT Id FROM Account WHERE"}, "MALFORMED_QUERY"),
        ({"operation": "query", "query": "SELECT COUNT() FROM Account"}, "INVALIDJOB"),
        ({"operation": "query", "query": "SELECT Id FROM Account LIMIT 5 OFFSET 1"}, "INVALIDJOB"),
        ({"operation": "insert", "query": "SELECT Id FROM Account"}, "INVALIDJOB"),
        (
            {"operation": "query", "query": "SELECT Id FROM Account", "columnDelimiter": "X"},
            "INVALIDJOB",
        ),
    ],
)
def test_bulk_query_job_refusals(rest: Rest, body: dict[str, str], code: str) -> None:
    response = rest.session.post(f"{rest.base}/jobs/query", json=body)
    assert response.status_code == 400, response.text
    assert response.json()[0]["errorCode"] == code
