"""handoff.yaml: valid files load into typed settings; every kind of problem is reported with
its path and line; secret references resolve lazily and never leak."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from handoff.config import (
    CONFIG_ENV_VAR,
    DATABASE_URL_ENV_VAR,
    DEFAULT_STORE_URL,
    ConfigError,
    ConfigProblem,
    FlowConfig,
    OwnershipConfig,
    PollTrigger,
    SecretRef,
    SecretUnavailableError,
    Settings,
    StoreConfig,
    SystemConfig,
    TriggerConfig,
    UnknownSystemError,
    effective_config,
    load_settings,
    parse_settings,
    redact,
    starter_config_text,
)

SECRET_VALUE = "sk_live_0123456789abcdef"  # a value that must never show up anywhere

VALID = """\
version: 1
systems:
  odoo:
    kind: odoo
    url: http://127.0.0.1:8069
    database: psa
    username: admin
    credentials:
      api_key: ${ODOO_API_KEY}
    rate_limit: {calls: 10, per_seconds: 1}
    circuit_breaker: {failure_threshold: 3}
  hubspot:
    kind: hubspot
    url: https://api.hubapi.com
    credentials:
      access_token: file:secrets/hubspot_token
    webhook_secret: ${HUBSPOT_CLIENT_SECRET}
ownership:
  customer: hubspot
  field_groups:
    customer.billing: odoo
flows:
  deal_to_delivery:
    queue: odoo
  invoice_status:
    trigger: {poll: {system: odoo, interval_seconds: 120}}
  billing_run:
    enabled: false
    trigger: {cron: "0 2 * * mon-fri"}
mappings:
  deal_to_sale_order: mappings/deal.yaml
retry: {max_attempts: 3, initial_delay_seconds: 0.5}
alerts:
  channels:
    - {kind: webhook, target: "${SLACK_WEBHOOK_URL}", min_severity: error}
    - {kind: log}
  open_exceptions_threshold: 10
"""


def write_config(folder: Path, text: str, name: str = "handoff.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(folder: Path, text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as raised:
        load_settings(write_config(folder, text))
    return raised.value.problems


def only_problem(folder: Path, text: str) -> ConfigProblem:
    problems = problems_of(folder, text)
    assert len(problems) == 1, problems
    return problems[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder holding the files VALID refers to."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "deal.yaml").write_text("direct: []\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "hubspot_token").write_text("pat-from-file\n")
    return tmp_path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (CONFIG_ENV_VAR, DATABASE_URL_ENV_VAR, "ODOO_API_KEY", "HUBSPOT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


# ── Valid files ──────────────────────────────────────────────────────────────────────────


def test_valid_file_loads_into_typed_settings(project: Path) -> None:
    settings = load_settings(write_config(project, VALID))

    odoo = settings.system("odoo")
    assert odoo.kind == "odoo"
    assert str(odoo.url) == "http://127.0.0.1:8069/"
    assert odoo.base_url == "http://127.0.0.1:8069"
    assert odoo.database == "psa"
    assert odoo.timeout_seconds == 30.0 and odoo.concurrency == 8
    assert odoo.rate_limit is not None and odoo.rate_limit.calls == 10
    assert odoo.circuit_breaker.failure_threshold == 3
    assert odoo.circuit_breaker.cooldown_seconds == 30.0
    assert odoo.credentials["api_key"].reference == "${ODOO_API_KEY}"

    assert settings.ownership.customer_owner() == "hubspot"
    assert settings.ownership.customer_owner("address") == "hubspot"
    assert settings.ownership.customer_owner("billing") == "odoo"

    assert settings.flows["deal_to_delivery"].trigger is None
    assert settings.flows["deal_to_delivery"].queue == "odoo"
    trigger = settings.flows["invoice_status"].trigger
    poll = trigger.poll if trigger is not None else None
    assert poll is not None and poll.system == "odoo" and poll.interval_seconds == 120
    billing = settings.flows["billing_run"]
    assert billing.enabled is False
    assert billing.trigger is not None and billing.trigger.cron == "0 2 * * mon-fri"

    assert settings.mappings["deal_to_sale_order"] == project / "mappings" / "deal.yaml"
    assert (settings.retry.max_attempts, settings.retry.initial_delay_seconds) == (3, 0.5)
    assert settings.retry.max_delay_seconds == 300.0
    assert [channel.kind for channel in settings.alerts.channels] == ["webhook", "log"]
    assert settings.source == project / "handoff.yaml"


def test_unknown_system_lookup_names_the_known_ones(project: Path) -> None:
    settings = load_settings(write_config(project, VALID))
    with pytest.raises(UnknownSystemError, match=r"no system named 'stripe'.*hubspot, odoo"):
        settings.system("stripe")


def test_empty_file_and_no_file_give_the_embedded_defaults(tmp_path: Path) -> None:
    from_empty_file = load_settings(write_config(tmp_path, ""))
    assert from_empty_file.model_dump() == Settings().model_dump()
    (tmp_path / "handoff.yaml").unlink()
    defaults = load_settings()
    assert defaults == Settings()
    assert defaults.source is None
    assert defaults.systems == {} and defaults.flows == {}
    assert defaults.retry.max_attempts == 6 and defaults.retry.jitter is True
    assert [channel.kind for channel in defaults.alerts.channels] == ["log"]
    assert defaults.store_url() == DEFAULT_STORE_URL


def test_default_file_is_handoff_config_then_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, "retry: {max_attempts: 2}\n")
    assert load_settings().retry.max_attempts == 2

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv(CONFIG_ENV_VAR, str(write_config(elsewhere, "retry: {max_attempts: 9}\n")))
    assert load_settings().retry.max_attempts == 9

    monkeypatch.setenv(CONFIG_ENV_VAR, str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_settings()


def test_store_urls_file_then_environment_then_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert defaults.store_url() == "sqlite:///data/handoff.db"
    assert defaults.system_store_url() == "sqlite:///data/handoff.db"  # one file, one transaction

    monkeypatch.setenv(DATABASE_URL_ENV_VAR, "postgresql+psycopg://ci:pw@127.0.0.1:5432/test")
    assert defaults.store_url() == "postgresql+psycopg://ci:pw@127.0.0.1:5432/test"
    assert defaults.system_store_url() == "postgresql+psycopg://ci:pw@127.0.0.1:5432/test"

    in_file = parse_settings("store: {url: 'sqlite:////var/lib/handoff/store.db'}")
    assert in_file.store_url() == "sqlite:////var/lib/handoff/store.db"
    assert in_file.system_store_url() == "sqlite:////var/lib/handoff/store.db"

    explicit = parse_settings("store: {system_url: 'sqlite:///engine.db'}")
    assert explicit.system_store_url() == "sqlite:///engine.db"

    # Built in code, a URL with a password is fine: it came from the environment.
    from_code = Settings(store=StoreConfig(url="postgresql+psycopg://ci:pw@127.0.0.1/test"))
    assert from_code.system_store_url() == "postgresql+psycopg://ci:pw@127.0.0.1/test"


def test_starter_file_is_valid() -> None:
    settings = parse_settings(starter_config_text())
    assert settings.system("odoo").credentials["api_key"].reference == "${ODOO_API_KEY}"
    assert set(settings.flows) == {
        "deal_to_delivery",
        "invoice_status",
        "billing_run",
        "time_entry",
    }


def test_breaker_settings_reach_the_hubs_breakers(tmp_path: Path) -> None:
    from handoff.engine.runtime import Hub

    text = (
        starter_config_text()
        .replace(
            "      cooldown_seconds: 30\n",
            "      cooldown_seconds: 12\n      probe_timeout_seconds: 7\n",
            1,
        )
        .replace("probe_timeout_seconds: 60 ", "# probe_timeout_seconds: 60 ", 1)
    )
    settings = parse_settings(text).model_copy(
        update={"store": StoreConfig(url=f"sqlite:///{tmp_path / 'store.db'}")}
    )
    hub = Hub.from_settings(settings)
    try:
        policy = hub.breakers.policy("odoo")
        assert (policy.cooldown_seconds, policy.probe_timeout_seconds) == (12.0, 7.0)
    finally:
        hub.store.dispose()


# ── Every kind of problem, with its path and line ────────────────────────────────────────

PROBLEMS = {
    "unknown key": (
        """\
        systems:
          odoo:
            kind: http
            url: http://x
            timout_seconds: 5
        """,
        "systems.odoo.timout_seconds",
        "unknown key (did you mean 'timeout_seconds'?)",
        5,
    ),
    "unknown section": (
        "sytems: {}\n",
        "sytems",
        "unknown key (did you mean 'systems'?)",
        1,
    ),
    "bad URL": (
        """\
        systems:
          odoo:
            kind: odoo
            database: psa
            url: not a url
        """,
        "systems.odoo.url",
        "invalid URL",
        5,
    ),
    "URL scheme": (
        "systems: {api: {kind: http, url: 'ftp://files.example.com'}}\n",
        "systems.api.url",
        "invalid URL: scheme must be 'http' or 'https'",
        1,
    ),
    "bad type (string for integer)": (
        """\
        systems:
          api:
            kind: http
            url: http://x
            concurrency: "8"
        """,
        "systems.api.concurrency",
        "must be a valid integer",
        5,
    ),
    "bad type (string for number)": (
        "retry:\n  multiplier: two\n",
        "retry.multiplier",
        "must be a valid number",
        2,
    ),
    "below minimum": (
        "retry:\n  max_attempts: 0\n",
        "retry.max_attempts",
        "must be >= 1",
        2,
    ),
    "not one of the choices": (
        "systems:\n  crm:\n    kind: pipedrive\n    url: http://x\n",
        "systems.crm.kind",
        "must be one of 'odoo', 'hubspot'",
        3,
    ),
    "missing required": (
        "systems:\n  api:\n    url: http://x\n",
        "systems.api.kind",
        "required",
        2,
    ),
    "missing required for the kind": (
        "systems:\n  odoo:\n    kind: odoo\n    url: http://x\n",
        "systems.odoo.database",
        "required for kind 'odoo'",
        2,
    ),
    "unknown system in ownership": (
        "systems: {odoo: {kind: odoo, url: 'http://x', database: psa}}\n"
        "ownership:\n  customer: hubspt\n",
        "ownership.customer",
        "unknown system 'hubspt' (defined in systems: odoo)",
        3,
    ),
    "unknown system in a field group": (
        "ownership:\n  field_groups:\n    customer.billing: odoo\n",
        "ownership.field_groups.customer.billing",
        "unknown system 'odoo' (no systems are defined)",
        3,
    ),
    "bad field group name": (
        "systems: {odoo: {kind: odoo, url: 'http://x', database: psa}}\n"
        "ownership:\n  field_groups:\n    client.billing: odoo\n",
        "ownership.field_groups.client.billing",
        "invalid name: field group must be 'customer.<group>'",
        4,
    ),
    "unknown system in a poll trigger": (
        "flows:\n  invoice_status:\n    trigger:\n      poll: {system: odoo}\n",
        "flows.invoice_status.trigger.poll.system",
        "unknown system 'odoo'",
        4,
    ),
    "unknown system as queue": (
        "flows:\n  billing_run:\n    trigger: {cron: '0 2 * * *'}\n    queue: odoo\n",
        "flows.billing_run.queue",
        "unknown system 'odoo'",
        4,
    ),
    "bad cron (field count)": (
        "flows:\n  nightly:\n    trigger: {cron: '0 2 * *'}\n",
        "flows.nightly.trigger.cron",
        "invalid cron expression: expected 5 fields",
        3,
    ),
    "bad cron (out of range)": (
        "flows:\n  nightly:\n    trigger: {cron: '61 * * * *'}\n",
        "flows.nightly.trigger.cron",
        "invalid cron expression '61 * * * *'",
        3,
    ),
    "two triggers": (
        "systems: {x: {kind: http, url: 'http://x'}}\n"
        "flows:\n  nightly:\n    trigger: {cron: '0 2 * * *', poll: {system: x}}\n",
        "flows.nightly.trigger",
        "set exactly one of poll, cron (found poll, cron)",
        4,
    ),
    "inlined secret": (
        f"systems:\n  api:\n    kind: http\n    url: http://x\n"
        f"    credentials:\n      token: {SECRET_VALUE}\n",
        "systems.api.credentials.token",
        "a literal secret is not allowed here: move the value to an environment variable",
        6,
    ),
    "inlined webhook secret": (
        f"systems:\n  api:\n    kind: http\n    url: http://x\n    webhook_secret: {SECRET_VALUE}\n",
        "systems.api.webhook_secret",
        "a literal secret is not allowed here",
        5,
    ),
    "malformed environment reference": (
        "systems:\n  api:\n    kind: http\n    url: http://x\n"
        "    credentials:\n      token: ${1TOKEN}\n",
        "systems.api.credentials.token",
        "malformed environment reference",
        6,
    ),
    "password in the store URL": (
        "store:\n  url: postgresql://handoff:hunter2@db/handoff\n",
        "store.url",
        f"a password is not allowed in the file: set the whole URL in the {DATABASE_URL_ENV_VAR}",
        2,
    ),
    "missing mapping file": (
        "mappings:\n  deal_to_sale_order: mappings/missing.yaml\n",
        "mappings.deal_to_sale_order",
        "mapping file not found: mappings/missing.yaml",
        2,
    ),
    "wrong version": (
        "version: 2\n",
        "version",
        "must be 1",
        1,
    ),
    "alert channel list item": (
        "alerts:\n  channels:\n    - kind: log\n    - kind: webhook\n      target: nobody\n",
        "alerts.channels[1].target",
        "must be an http(s) URL",
        5,
    ),
    "duplicate key": (
        "retry:\n  max_attempts: 3\n  max_attempts: 4\n",
        "retry.max_attempts",
        "duplicate key (first defined on line 2)",
        3,
    ),
}


@pytest.mark.parametrize(("text", "path", "message", "line"), PROBLEMS.values(), ids=PROBLEMS)
def test_each_problem_is_reported_with_its_path_and_line(
    tmp_path: Path, text: str, path: str, message: str, line: int
) -> None:
    problem = only_problem(tmp_path, text)
    assert problem.path == path
    assert message in problem.message
    assert problem.line == line
    assert f"handoff.yaml:{line}:" in problem.format("handoff.yaml")
    assert f": {path}: {message}" in problem.format("handoff.yaml")


def test_yaml_syntax_error_is_reported_with_line_and_column(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "systems:\n  odoo:\n    kind: odoo\n   url: [http://x\n")
    assert problem.message.startswith("YAML syntax error: ")
    assert (problem.line, problem.column) == (4, 4)  # the mis-indented key


def test_document_that_is_not_a_mapping_is_reported(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "- systems\n- flows\n")
    assert problem.message == "the file must be a YAML mapping of sections"


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """\
        systems:
          odoo:
            kind: odoo
            url: nope
        ownership:
          deal: hubspot
        flows:
          nightly:
            trigger: {cron: "* * *"}
        retry:
          max_attempts: 0
          jiter: false
        """,
    )
    assert [problem.path for problem in problems] == [
        "systems.odoo.database",
        "systems.odoo.url",
        "ownership.deal",
        "flows.nightly.trigger.cron",
        "retry.max_attempts",
        "retry.jiter",
    ]
    assert [problem.line for problem in problems] == [2, 4, 6, 9, 11, 12]


def test_settings_built_in_code_are_cross_checked_too() -> None:
    with pytest.raises(ValidationError, match=r"ownership\.customer: unknown system 'hubspot'"):
        Settings(ownership=OwnershipConfig(customer="hubspot"))
    flows = {"won": FlowConfig(trigger=TriggerConfig(poll=PollTrigger(system="hubspot")))}
    with pytest.raises(ValidationError, match=r"flows\.won\.trigger\.poll\.system: unknown system"):
        Settings(flows=flows)
    systems = {"hubspot": SystemConfig(kind="hubspot", url="https://api.hubapi.com")}
    trigger = Settings(systems=systems, flows=flows).flows["won"].trigger
    assert trigger is not None and trigger.kind == "poll"


# ── Which flows a source may start ───────────────────────────────────────────────────────

SOURCES = """\
systems:
  psa:
    kind: http
    url: https://psa.example
    webhook_secret: ${PSA_SECRET}
    allowed_flows: [time_entry, stripe_payment]
  stripe:
    kind: stripe
    url: https://api.stripe.com
    webhook_secret: ${STRIPE_SECRET}
"""


def test_a_source_may_start_no_flow_unless_it_lists_it(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, SOURCES.replace(", stripe_payment", "")))
    assert settings.system("psa").allowed_flows == ["time_entry"]
    assert settings.system("stripe").allowed_flows == []  # deny by default


def test_a_flow_no_source_may_start_is_reported_with_its_path_and_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, SOURCES)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, startable_flows={"time_entry"})
    [problem] = raised.value.problems
    assert problem.path == "systems.psa.allowed_flows[1]"
    assert problem.message == (
        "no flow 'stripe_payment' that a source may start by name (time_entry)"
    )
    assert problem.line == 6


def test_the_starters_commented_source_is_valid_once_uncommented() -> None:
    from handoff.flows.routing import startable_flows

    text = starter_config_text()
    block = text[text.index("#  psa:") : text.index("# CSV/JSON files are imported")]
    uncommented = "\n".join(line[1:] for line in block.splitlines() if line.startswith("#  "))
    settings = parse_settings(
        text.replace(block, uncommented + "\n\n"), startable_flows=startable_flows()
    )
    assert settings.system("psa").allowed_flows == ["time_entry"]
    assert settings.system("hubspot").allowed_flows == []


def test_allowed_flows_need_a_signed_source(tmp_path: Path) -> None:
    problem = only_problem(
        tmp_path,
        "systems:\n  psa:\n    kind: http\n    url: https://psa.example\n"
        "    allowed_flows: [time_entry]\n",
    )
    assert problem.path == "systems.psa.allowed_flows"
    assert "needs webhook_secret" in problem.message


# ── Secrets ──────────────────────────────────────────────────────────────────────────────


def test_secret_references_resolve_from_env_and_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(write_config(project, VALID))
    api_key = settings.system("odoo").credentials["api_key"]
    token = settings.system("hubspot").credentials["access_token"]

    monkeypatch.setenv("ODOO_API_KEY", SECRET_VALUE)
    assert api_key.reveal() == SECRET_VALUE
    monkeypatch.setenv("ODOO_API_KEY", "rotated")  # read at the point of use, never cached
    assert api_key.reveal() == "rotated"

    # file: relative to the configuration file's folder; the trailing newline is not part of it
    assert token.reveal() == "pat-from-file"
    assert SecretRef(f"file:{project / 'secrets' / 'hubspot_token'}").reveal() == "pat-from-file"


def test_unresolvable_secret_errors_name_the_reference(tmp_path: Path) -> None:
    with pytest.raises(SecretUnavailableError) as missing_env:
        SecretRef("${ODOO_API_KEY}").reveal()
    assert str(missing_env.value) == (
        "environment variable ODOO_API_KEY is not set (referenced as ${ODOO_API_KEY})"
    )

    absent = tmp_path / "absent"
    with pytest.raises(SecretUnavailableError) as missing_file:
        SecretRef(f"file:{absent}").reveal()
    assert str(missing_file.value) == (
        f"cannot read secret file {absent} (referenced as file:{absent}): No such file or directory"
    )
    assert SecretRef("${ODOO_API_KEY}").status() == "missing"


def test_secret_value_never_in_repr_str_or_dump(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODOO_API_KEY", SECRET_VALUE)
    settings = load_settings(write_config(project, VALID))
    odoo = settings.system("odoo")
    assert odoo.credentials["api_key"].reveal() == SECRET_VALUE  # it is there to be leaked

    renderings = [
        repr(odoo.credentials["api_key"]),
        str(odoo.credentials["api_key"]),
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        str(effective_config(settings)),
    ]
    for rendering in renderings:
        assert SECRET_VALUE not in rendering
    assert repr(odoo.credentials["api_key"]) == "SecretRef('${ODOO_API_KEY}')"
    assert '"api_key":"${ODOO_API_KEY}"' in settings.model_dump_json()
    shown = effective_config(settings)["systems"]["odoo"]["credentials"]["api_key"]
    assert shown == "${ODOO_API_KEY} (set)"
    assert effective_config(settings)["systems"]["hubspot"]["webhook_secret"] == (
        "${HUBSPOT_CLIENT_SECRET} (missing)"
    )


def test_secret_value_never_in_error_text(tmp_path: Path) -> None:
    inlined = PROBLEMS["inlined secret"][0]
    with pytest.raises(ConfigError) as from_file:
        load_settings(write_config(tmp_path, inlined))
    assert SECRET_VALUE not in str(from_file.value)
    assert SECRET_VALUE not in repr(from_file.value.problems)

    # A syntax error on the secret's line: PyYAML would quote the line; we must not.
    broken = f"systems:\n  api:\n    credentials: {{token: {SECRET_VALUE}\n  other: 1\n"
    with pytest.raises(ConfigError) as syntax:
        load_settings(write_config(tmp_path, broken))
    assert "YAML syntax error" in str(syntax.value)
    assert SECRET_VALUE not in str(syntax.value)

    with pytest.raises(ValidationError) as in_code:
        SystemConfig(kind="http", url="http://x", credentials={"token": SECRET_VALUE})
    assert "a literal secret is not allowed" in str(in_code.value)
    assert SECRET_VALUE not in str(in_code.value)


def test_store_password_is_masked_when_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, "postgresql+psycopg://handoff:hunter2@db/handoff")
    shown = effective_config(Settings())["store"]
    assert "hunter2" not in str(shown)
    assert shown["url"] == "postgresql+psycopg://handoff:***@db/handoff"


def test_redact_scrubs_secret_keys_at_any_depth() -> None:
    record = {
        "name": "Acme",
        "Password": "p1",
        "headers": {"Authorization": "Bearer t", "X-Api-Key": "k", "Content-Type": "json"},
        "oauth": {"client_secret": "c", "accessToken": "a", "refresh_token": "r"},
        "credentials": {"user": "u"},
        "webhook_secret": "w",
        "session_id": "s",
        "lines": [{"api_key": "k2", "qty": 3}],
        "dsn": "postgresql://handoff:hunter2@db:5432/handoff",
        "ref": SecretRef("${ODOO_API_KEY}"),
    }
    assert redact(record) == {
        "name": "Acme",
        "Password": "***",
        "headers": {"Authorization": "***", "X-Api-Key": "***", "Content-Type": "json"},
        "oauth": {"client_secret": "***", "accessToken": "***", "refresh_token": "***"},
        "credentials": "***",
        "webhook_secret": "***",
        "session_id": "***",
        "lines": [{"api_key": "***", "qty": 3}],
        "dsn": "postgresql://handoff:***@db:5432/handoff",
        "ref": "${ODOO_API_KEY}",
    }
    assert record["Password"] == "p1"  # the input is left untouched
    assert redact({"author": "Ann", "tokenizer_version": 2, "description": "x"}) == {
        "author": "Ann",
        "tokenizer_version": 2,
        "description": "x",
    }
