"""The account's people and the token's scopes: `/crm/v3/owners`, `/settings/v3/users`, and which
scope each call needs (403 MISSING_SCOPES when the token lacks it), in HubSpot's shapes.

Owners and users are the demo firm's partners when the sandbox is seeded (every HubSpot user
with a seat is also an owner); an unseeded sandbox has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from handoff_sandbox.hubspot.errors import HubSpotApiError
from handoff_sandbox.hubspot.schema import (
    STORED_TYPE_SCOPES,
    UNSTORED_OBJECT_TYPES,
    resolve_object_type,
    resolve_unstored_type,
)

ACCOUNT_CREATED = "2025-01-06T09:00:00.000Z"
SCOPES_LINK = "https://developers.hubspot.com/scopes"


@dataclass(frozen=True)
class Person:
    owner_id: str
    user_id: int
    email: str
    first_name: str
    last_name: str
    team_id: str | None = None
    team_name: str | None = None

    def owner_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.owner_id,
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": ACCOUNT_CREATED,
            "updatedAt": ACCOUNT_CREATED,
            "archived": False,
        }
        if self.team_id:
            body["teams"] = [{"id": self.team_id, "name": self.team_name, "primary": True}]
        return body

    def user_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.user_id),
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "roleIds": [],
            "superAdmin": False,
        }
        if self.team_id:
            body["primaryTeamId"] = self.team_id
            body["secondaryTeamIds"] = []
        return body


def demo_people() -> list[Person]:
    """The demo firm's HubSpot owners: its partners, one team per legal entity."""
    from handoff_sandbox import demo_firm

    people = []
    teams: dict[str, str] = {}
    for consultant in demo_firm.CONSULTANTS:
        if not consultant.hubspot_owner_id:
            continue
        first, _, last = consultant.name.partition(" ")
        team_id = teams.setdefault(consultant.entity, str(4_100_000 + len(teams) + 1))
        people.append(
            Person(
                owner_id=consultant.hubspot_owner_id,
                user_id=int("9" + consultant.hubspot_owner_id[1:]),
                email=consultant.email,
                first_name=first,
                last_name=last,
                team_id=team_id,
                team_name=consultant.entity,
            )
        )
    return people


def page(
    items: list[dict[str, Any]], *, after: str | None, limit: int, link: str
) -> dict[str, Any]:
    """HubSpot's cursor page: `results`, and `paging.next.after` while more remain."""
    start = int(after) if after and after.isdigit() else 0
    body: dict[str, Any] = {"results": items[start : start + limit]}
    if start + limit < len(items):
        next_after = str(start + limit)
        body["paging"] = {"next": {"after": next_after, "link": f"{link}?after={next_after}"}}
    return body


# -- scopes --------------------------------------------------------------------------------------

_OBJECT_PATH = re.compile(r"^/crm/v[34]/objects/([^/]+)(/.*)?$")
_PROPERTIES_PATH = re.compile(r"^/crm/v3/(?:properties|pipelines)/([^/]+)(/.*)?$")


def _type_scopes(raw: str, write: bool) -> list[str] | None:
    unstored = resolve_unstored_type(raw)
    if unstored is not None:
        known = UNSTORED_OBJECT_TYPES[unstored]
        return [known.write_scope if write else known.read_scope]
    stored = resolve_object_type(raw)
    if stored is not None:
        read, write_scope = STORED_TYPE_SCOPES[stored]
        return [write_scope if write else read]
    return None  # an unknown type: the handler answers UNKNOWN_OBJECT_TYPE


def required_scopes(method: str, path: str) -> list[str] | None:
    """The scopes one of which a call needs; None when the sandbox checks none for it."""
    reading = method == "GET" or (method == "POST" and path.endswith(("/search", "/batch/read")))
    if path.startswith("/crm/v3/owners"):
        return ["crm.objects.owners.read"]
    if path.startswith("/settings/v3/users"):
        return ["settings.users.read"] if method == "GET" else ["settings.users.write"]
    if path.startswith(("/crm/v3/schemas", "/crm-object-schemas/v3/schemas")):
        return ["crm.schemas.custom.read"] if method == "GET" else ["crm.schemas.custom.write"]
    match = _OBJECT_PATH.match(path)
    if match:
        return _type_scopes(match.group(1), write=not reading)
    match = _PROPERTIES_PATH.match(path)
    if match:
        scopes = _type_scopes(match.group(1), write=False)
        if scopes is None:
            return None
        # Reading a type's property definitions or pipelines takes its schema or object scope.
        kind = resolve_object_type(match.group(1)) or match.group(1)
        return [f"crm.schemas.{kind}.read", *scopes]
    return None


def missing_scopes(required: list[str]) -> HubSpotApiError:
    return HubSpotApiError(
        403,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about "
        f"required scopes here: {SCOPES_LINK}.",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": required},
            }
        ],
        extra={"links": {"scopes": SCOPES_LINK}},
    )
