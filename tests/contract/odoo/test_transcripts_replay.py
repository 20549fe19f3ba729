"""Every recorded JSON-RPC exchange, replayed in recorded order, answers exactly as recorded.

Strict: every key, list item and value is compared (see `strict.py`); only the named RULES there
normalise what legitimately changes between runs (ids, dates, sequence numbers, tracebacks,
secrets). Exchanges the sandbox cannot reproduce are listed, with their reason, in the register
docs/sandbox-differences.md (section "## Odoo"), which this test reads: one place per fact.

Against a real server (HANDOFF_TEST_ODOO_* set, on a fresh database) the same replay runs; only the
register's rows marked `both` (facts of the recording itself, such as ids of users made by an
earlier run) are skipped there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff_sandbox.odoo.schema import load_models
from handoff_sandbox.odoo.testing import running_odoo_sandbox

from .conftest import OdooTarget, live_target
from .strict import Comparer, IdMap

TRANSCRIPTS = Path(__file__).parent / "transcripts"
REGISTER = Path(__file__).parents[3] / "docs" / "sandbox-differences.md"
JSONRPC_FILES = sorted(p.name for p in TRANSCRIPTS.glob("*.json") if p.name != "xmlrpc_basic.json")
EXCHANGE_REF = re.compile(r"`([a-z0-9_]+\.json)#(\d+)(?:-(\d+))?`")


@dataclass(frozen=True)
class Divergence:
    reason: str
    target: str  # "sandbox" (the sandbox differs), "live" (only a real server differs: a race or
    # a per-database value no rule covers) or "both" (a fact of the recording itself)


def known_divergences(heading: str = "Odoo") -> dict[tuple[str, int], Divergence]:
    """The rows of the register's ``## {heading}`` table: | `file.json#seq` ... | applies to |
    reason |."""
    text = REGISTER.read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    found: dict[tuple[str, int], Divergence] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not EXCHANGE_REF.search(cells[0]):
            continue
        for name, first, last in EXCHANGE_REF.findall(cells[0]):
            for seq in range(int(first), int(last or first) + 1):
                earlier = found.get((name, seq))
                if earlier is not None and earlier.target != cells[1]:  # sandbox + live rows
                    found[(name, seq)] = Divergence(f"{earlier.reason}; {cells[2]}", "both")
                else:
                    found[(name, seq)] = Divergence(reason=cells[2], target=cells[1])
    return found


KNOWN_DIVERGENCES = known_divergences()

# Sandbox controls (POST /sandbox/control) set just before an exchange, with the reason. The real
# server needs none: there the recorded situation arises by itself.
SANDBOX_CONTROLS: dict[tuple[str, int], tuple[dict[str, Any], str]] = {
    ("load_concurrent_same_external_id.json", 2): (
        {"load_conflicts": 1},
        "recorded as concurrent calls; the replay is sequential",
    ),
    ("load_concurrent_same_external_id.json", 3): (
        {"load_conflicts": 1},
        "recorded as concurrent calls; the replay is sequential",
    ),
}


class IdMapper:
    """Maps the ids inside a recorded request to the replayed ids the comparer learnt."""

    def __init__(self, ids: IdMap) -> None:
        self.models = load_models()
        self.known = ids

    @property
    def ids(self) -> dict[tuple[str, int], int]:
        return self.known.ids

    def map_id(self, model: str | None, value: Any) -> Any:
        if model and isinstance(value, int) and not isinstance(value, bool):
            return self.ids.get((model, value), value)
        if model and isinstance(value, list):
            return [self.map_id(model, v) for v in value]
        return value

    def map_vals(self, model: str, vals: Any) -> Any:
        if not isinstance(vals, dict):
            return vals
        fields = self.models.get(model)
        out = {}
        if model == "ir.model.data" and isinstance(vals.get("model"), str):
            vals = {**vals, "res_id": self.map_id(vals["model"], vals.get("res_id"))}
        for name, value in vals.items():
            field = fields.fields.get(name) if fields else None
            if field is None or not field.relation:
                out[name] = value
            elif field.type == "many2one":
                out[name] = self.map_id(field.relation, value)
            else:
                out[name] = (
                    [self._command(field.relation, c) for c in value]
                    if isinstance(value, list)
                    else value
                )
        return out

    def _command(self, relation: str, command: Any) -> Any:
        if not isinstance(command, list):
            return self.map_id(relation, command)
        code = command[0]
        if code == 0:
            return [0, 0, self.map_vals(relation, command[2])]
        if code == 6:
            return [6, 0, self.map_id(relation, command[2])]
        if code in (1, 2, 3, 4):
            rest = [self.map_vals(relation, c) for c in command[2:]]
            return [code, self.map_id(relation, command[1]), *rest]
        return command

    def map_load_rows(self, model: str, columns: list[str], rows: list[Any]) -> list[Any]:
        """Database-id columns of `load` (`.id`, `parent_id/.id`) name recorded ids."""
        spec = self.models.get(model)
        targets: list[str | None] = []
        for column in columns:
            name, _, suffix = column.partition("/")
            field = spec.fields.get(name) if spec else None
            targets.append(
                model
                if column == ".id"
                else (field.relation if field is not None and suffix == ".id" else None)
            )
        out = []
        for row in rows:
            out.append(
                [
                    str(self.map_id(t, int(v))) if t and isinstance(v, str) and v.isdigit() else v
                    for t, v in zip(targets, row, strict=False)
                ]
            )
        return out

    def map_domain(self, model: str, domain: Any) -> Any:
        if not isinstance(domain, list):
            return domain
        fields = self.models.get(model)
        out = []
        for leaf in domain:
            if isinstance(leaf, list) and len(leaf) == 3 and fields:
                field = (
                    fields.fields.get(leaf[0].split(".")[0]) if isinstance(leaf[0], str) else None
                )
                relation = model if leaf[0] == "id" else (field.relation if field else None)
                out.append([leaf[0], leaf[1], self.map_id(relation, leaf[2])])
            else:
                out.append(leaf)
        return out

    def map_call(self, model: str, method: str, args: list[Any], kwargs: dict) -> tuple[list, dict]:
        args = list(args)
        kwargs = dict(kwargs)
        if "context" in kwargs and isinstance(kwargs["context"], dict):
            context = dict(kwargs["context"])
            active = context.get("active_model")
            for key in ("active_ids", "active_id"):
                if key in context:
                    context[key] = self.map_id(active, context[key])
            kwargs["context"] = context
        if "domain" in kwargs:
            kwargs["domain"] = self.map_domain(model, kwargs["domain"])
        if "args" in kwargs:
            kwargs["args"] = self.map_domain(model, kwargs["args"])
        if method == "load" and len(args) > 1 and isinstance(args[1], list):
            args[1] = self.map_load_rows(model, args[0], args[1])
        if method == "create" and args:
            first = args[0]
            args[0] = (
                [self.map_vals(model, v) for v in first]
                if isinstance(first, list)
                else self.map_vals(model, first)
            )
        elif method in ("search", "search_read", "search_count", "read_group") and args:
            args[0] = self.map_domain(model, args[0])
        elif args and isinstance(args[0], list) and all(isinstance(i, int) for i in args[0]):
            args[0] = self.map_id(model, args[0])
            if method == "write" and len(args) > 1:
                args[1] = self.map_vals(model, args[1])
        return args, kwargs


def recorded_order() -> list[str]:
    """The files in the order they were recorded: later files use records earlier ones made."""

    def position(name: str) -> tuple[str, int]:
        transcript = json.loads((TRANSCRIPTS / name).read_text())
        first = transcript["exchanges"][0]["request"]
        return transcript["recorded_at_utc"], int(first.get("id") or 0)

    return sorted(JSONRPC_FILES, key=position)


class Replay:
    """One replay of every transcript, in recorded order, against one target."""

    def __init__(self, client: httpx.Client, target: OdooTarget) -> None:
        self.client = client
        self.target = target
        self.ids = IdMap()
        self.mapper = IdMapper(self.ids)

    def credentials(self, value: Any) -> Any:
        """The recording's db/login/password replaced by the target's (a live server)."""
        swap = {"psa": self.target.db, "admin": self.target.password}
        return swap.get(value, value) if isinstance(value, str) else value

    def request(self, exchange: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
        body = json.loads(json.dumps(exchange["request"]))
        params = body.get("params", {})
        path = exchange["http_request"]["path"]
        model = method = None
        if params.get("service") == "object" and params.get("method") in ("execute_kw", "execute"):
            db, uid, password, model, method, *rest = params["args"]
            uid = self.ids.get("res.users", uid)
            if params["method"] == "execute":
                args, _ = self.mapper.map_call(model, method, rest, {})
                params["args"] = [
                    self.credentials(db),
                    uid,
                    self.credentials(password),
                    model,
                    method,
                    *args,
                ]
            else:
                args, kwargs = self.mapper.map_call(
                    model, method, rest[0] if rest else [], rest[1] if len(rest) > 1 else {}
                )
                params["args"] = [
                    self.credentials(db),
                    uid,
                    self.credentials(password),
                    model,
                    method,
                    args,
                    *([kwargs] if len(rest) > 1 else []),
                ]
        elif params.get("service") == "common" and params.get("method") in (
            "authenticate",
            "login",
        ):
            args = list(params["args"])
            args[0] = self.credentials(args[0])
            if args[1] == "admin":
                args[1] = self.target.login
            args[2] = self.credentials(args[2])
            params["args"] = args
        elif path.startswith("/web/dataset/call_kw"):
            model, method = params["model"], params["method"]
            params["args"], params["kwargs"] = self.mapper.map_call(
                model, method, params["args"], params.get("kwargs", {})
            )
        elif path == "/web/session/authenticate":
            params["db"] = self.credentials(params.get("db"))
            params["password"] = self.credentials(params.get("password"))
        return body, model, method

    def exchange(self, name: str, exchange: dict[str, Any]) -> list[str]:
        body, model, method = self.request(exchange)
        control = SANDBOX_CONTROLS.get((name, exchange["seq"]))
        if control is not None and not self.target.live:
            self.client.post("/sandbox/control", json=control[0]).raise_for_status()
        response = self.client.post(exchange["http_request"]["path"], json=body)
        divergence = KNOWN_DIVERGENCES.get((name, exchange["seq"]))
        excused = divergence is not None and divergence.target in (
            ("live", "both") if self.target.live else ("sandbox", "both")
        )
        label = f"{name}#{exchange['seq']} {exchange['label'][:60]}"
        if response.status_code != exchange["http_response"]["status"]:
            return [f"{label}: HTTP {response.status_code}"]
        recorded = exchange["response"]
        actual = response.json()
        comparer = Comparer(self.ids)
        if set(recorded) != set(actual):
            comparer.problems.append(f"keys {sorted(recorded)} vs {sorted(actual)}")
        if "error" in recorded and "error" in actual:
            comparer.error(recorded["error"], actual["error"])
        elif "result" in recorded and "result" in actual:
            if body.get("params", {}).get("service") == "common" and body["params"].get(
                "method"
            ) in ("authenticate", "login"):
                comparer.value("result", recorded["result"], actual["result"], id_model="res.users")
            else:
                comparer.result(model, method, recorded["result"], actual["result"])
        elif "error" in actual:
            comparer.problems.append(
                f"error {actual['error']['data'].get('name')}: "
                f"{actual['error']['data'].get('message')}"
            )
        if excused:  # sent and its ids learnt (later calls use them), its differences excused
            return []
        return [f"{label}: {p}" for p in comparer.problems[:4]]

    def transcript(self, name: str) -> list[str]:
        transcript = json.loads((TRANSCRIPTS / name).read_text())
        return [p for exchange in transcript["exchanges"] for p in self.exchange(name, exchange)]


@pytest.fixture(scope="module")
def replayed() -> dict[str, list[str]]:
    """All transcripts replayed in recorded order against one fresh sandbox (or the live one)."""
    live = live_target()
    if live is not None:
        with httpx.Client(base_url=live.url, timeout=120) as client:
            replay = Replay(client, live)
            return {name: replay.transcript(name) for name in recorded_order()}
    with (
        running_odoo_sandbox() as sandbox,
        httpx.Client(base_url=sandbox.url, timeout=60) as client,
    ):
        target = OdooTarget(sandbox.url, sandbox.db, sandbox.login, sandbox.password, live=False)
        replay = Replay(client, target)
        return {name: replay.transcript(name) for name in recorded_order()}


@pytest.mark.parametrize("name", JSONRPC_FILES)
def test_recorded_exchanges_are_answered_exactly(name: str, replayed: dict[str, list[str]]) -> None:
    assert replayed[name] == []


def test_every_divergence_names_a_recorded_exchange() -> None:
    """The register may not excuse an exchange that does not exist."""
    for (name, seq), divergence in KNOWN_DIVERGENCES.items():
        transcript = json.loads((TRANSCRIPTS / name).read_text())
        assert any(e["seq"] == seq for e in transcript["exchanges"]), (name, seq)
        assert divergence.target in ("sandbox", "live", "both") and divergence.reason


@pytest.mark.skipif(live_target() is not None, reason="word-for-word check of the sandbox")
def test_recorded_error_messages_are_the_same_text() -> None:
    """Errors the sandbox can reproduce word for word (no data-dependent parts)."""
    transcript = json.loads((TRANSCRIPTS / "create_unknown_field.json").read_text())
    with running_odoo_sandbox() as sandbox:
        for exchange in transcript["exchanges"]:
            if exchange["seq"] in (2, 4):  # they name the recorded partner 14
                continue
            got = httpx.post(f"{sandbox.url}/jsonrpc", json=exchange["request"]).json()
            assert (
                got["error"]["data"]["message"] == exchange["response"]["error"]["data"]["message"]
            )
