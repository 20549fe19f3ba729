"""The list endpoint pages through every record: `paging.next.after` is where the next page starts."""

from __future__ import annotations

import httpx

from handoff_sandbox.hubspot.testing import running_hubspot_sandbox


def test_paging_the_list_endpoint_returns_every_record_once() -> None:
    with running_hubspot_sandbox() as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.token}"}
        inputs = [{"properties": {"name": f"Company {n}"}} for n in range(7)]
        created = httpx.post(
            f"{sandbox.url}/crm/v3/objects/companies/batch/create",
            json={"inputs": inputs},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        seen: list[str] = []
        params: dict[str, str] = {"limit": "2", "properties": "name"}
        while True:
            page = httpx.get(
                f"{sandbox.url}/crm/v3/objects/companies", params=params, headers=headers
            ).json()
            seen += [row["properties"]["name"] for row in page["results"]]
            if "paging" not in page:
                break
            params["after"] = page["paging"]["next"]["after"]
        assert sorted(seen) == sorted(f"Company {n}" for n in range(7))
