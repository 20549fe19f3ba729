"""Every setting in handoff.yaml is read or removed (issue 11): a removed setting is an error that
says so and what to do, never silently ignored; money in the file is read exactly as written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handoff.config import (
    CUSTOMER_FIELD_GROUPS,
    BatchConfig,
    ConfigError,
    ConfigProblem,
    LimitsConfig,
    RateCardConfig,
    Settings,
    parse_settings,
    starter_config_text,
)


def problems(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as raised:
        parse_settings(text)
    return raised.value.problems


SYSTEMS = """\
systems:
  hubspot: {kind: hubspot, url: "https://api.hubapi.com"}
  odoo: {kind: odoo, url: "http://127.0.0.1:8069", database: psa}
"""


@pytest.mark.parametrize(
    ("text", "path", "line", "says"),
    [
        (
            SYSTEMS + "ownership:\n  customer: hubspot\n  deal: hubspot\n",
            "ownership.deal",
            6,
            "removed in issue 11",
        ),
        (
            SYSTEMS + "ownership:\n  invoice: odoo\n",
            "ownership.invoice",
            5,
            "only ownership.customer and ownership.field_groups",
        ),
        (
            SYSTEMS + "flows:\n  deal_to_delivery:\n    trigger: {webhook: hubspot}\n",
            "flows.deal_to_delivery.trigger.webhook",
            6,
            "Delete the trigger",
        ),
        (
            SYSTEMS + "  drops: {kind: files, path: inbox/}\n",
            "systems.drops.kind",
            4,
            "kind 'files' was removed in issue 11",
        ),
        (
            SYSTEMS + "  psa: {kind: http, url: 'https://psa.example', path: inbox/}\n",
            "systems.psa.path",
            4,
            "handoff import time FILE",
        ),
        (
            "systems:\n  odoo:\n    kind: odoo\n    url: http://x\n    database: psa\n"
            "    circuit_breaker: {failure_threshold: 3, half_open_max_calls: 1}\n",
            "systems.odoo.circuit_breaker.half_open_max_calls",
            6,
            "exactly one call probe",
        ),
        (
            "delivery:\n  rate_card:\n    roles: {a: {USD: 100}}\n"
            "    consultants: {jane@example.com: a}\n",
            "delivery.rate_card.consultants",
            4,
            "priced by the role of its service_catalog entry",
        ),
        (
            "alerts:\n  channels:\n    - {kind: email, target: ops@example.com}\n",
            "alerts.channels[0].kind",
            3,
            "kind 'email' was removed in issue 11",
        ),
    ],
)
def test_a_removed_setting_is_a_clear_error_at_its_line(
    text: str, path: str, line: int, says: str
) -> None:
    [problem] = problems(text)
    assert (problem.path, problem.line) == (path, line)
    assert says in problem.message


def test_a_removed_kind_is_reported_once_and_the_rest_still_checked() -> None:
    found = problems(
        SYSTEMS
        + "  drops: {kind: files}\nownership:\n  customer: drops\nretry: {max_attempts: 0}\n"
    )
    assert [(p.path, p.line) for p in found] == [
        ("systems.drops.kind", 4),
        ("retry.max_attempts", 7),
    ]
    assert "kind 'files' was removed" in found[0].message


def test_every_removed_setting_of_one_file_is_reported_at_once() -> None:
    found = problems(
        SYSTEMS
        + "ownership: {deal: hubspot, project: odoo}\n"
        + "flows:\n  deal_won: {trigger: {webhook: hubspot}, queue: odoo}\n"
    )
    assert [p.path for p in found] == [
        "ownership.deal",
        "ownership.project",
        "flows.deal_won.trigger.webhook",
    ]


def test_field_groups_name_the_customer_groups_the_code_writes() -> None:
    from handoff.customers.ownership import PARTNER_FIELD_GROUPS

    assert set(PARTNER_FIELD_GROUPS) == set(CUSTOMER_FIELD_GROUPS)
    [problem] = problems(SYSTEMS + "ownership:\n  field_groups: {project.billing: odoo}\n")
    assert problem.path == "ownership.field_groups.project.billing"
    assert "customer.<group>" in problem.message


@pytest.mark.parametrize(
    ("flows", "path", "says"),
    [
        (
            "nightly: {trigger: {cron: '0 2 * * *'}}",
            "flows",
            "only flows.billing_run runs on a cron",
        ),
        (
            "invoice_status: {trigger: {poll: {system: hubspot}}}",
            "flows",
            "'hubspot' is a hubspot system; this poll reads Odoo's invoices",
        ),
        (
            "deals: {trigger: {poll: {system: odoo}}}",
            "flows",
            "'odoo' is a odoo system; this poll reads a CRM's deals",
        ),
    ],
)
def test_a_trigger_nothing_would_run_is_an_error(flows: str, path: str, says: str) -> None:
    [problem] = problems(SYSTEMS + f"flows:\n  {flows}\n")
    assert says in problem.message


def test_disabling_a_flow_without_a_trigger_is_an_error() -> None:
    [problem] = problems(SYSTEMS + "flows:\n  deal_to_delivery: {enabled: false, queue: odoo}\n")
    assert "flows.deal_to_delivery.enabled: false stops only a trigger" in problem.message
    settings = parse_settings(
        SYSTEMS + "flows:\n  billing_run: {enabled: false, trigger: {cron: '0 6 1 * *'}}\n"
    )
    assert settings.flows["billing_run"].enabled is False


def test_the_triggers_that_run_are_accepted() -> None:
    settings = parse_settings(
        SYSTEMS
        + "flows:\n"
        + "  billing_run: {trigger: {cron: '0 6 1 * *'}}\n"
        + "  invoice_status: {trigger: {poll: {system: odoo, interval_seconds: 7}}}\n"
        + "  deal_poll: {trigger: {poll: {system: hubspot}}}\n"
        + "  deal_to_delivery: {queue: odoo}\n"
    )
    assert set(settings.flows) == {"billing_run", "invoice_status", "deal_poll", "deal_to_delivery"}


# ── Money read exactly ───────────────────────────────────────────────────────────────────


def test_rates_are_the_decimals_written_not_the_nearest_floats() -> None:
    settings = parse_settings(
        "delivery:\n  rate_card:\n    roles:\n"
        "      a: {USD: 0.1, EUR: 150.50}\n      b: {USD: 0.2, EUR: 150}\n"
        "      c: {USD: 1_000.25, EUR: 1.1e+2}\n"
    )
    card = settings.delivery.rate_card
    a, b = card.rate("a", "USD"), card.rate("b", "USD")
    assert a is not None and b is not None
    assert a + b == Decimal("0.3")  # 0.1 + 0.2 as floats is 0.30000000000000004
    assert 0.1 + 0.2 != 0.3
    assert card.rate("a", "EUR") == Decimal("150.50")
    assert str(card.rate("a", "EUR")) == "150.50"
    assert card.rate("b", "EUR") == Decimal(150)
    assert card.rate("c", "USD") == Decimal("1000.25")
    assert card.rate("c", "EUR") == Decimal("110")
    assert all(
        isinstance(rate, Decimal) for rates in card.roles.values() for rate in rates.values()
    )


def test_a_money_setting_still_refuses_text_and_non_numbers() -> None:
    for value, expected in (
        ('"150"', "instance of Decimal"),
        ("true", "instance of Decimal"),
        (".inf", "finite"),
        ("-1", "must be >= 0"),
    ):
        [problem] = problems(f"delivery:\n  rate_card:\n    roles:\n      a: {{USD: {value}}}\n")
        assert problem.path.startswith("delivery.rate_card.roles"), problem
        assert expected in problem.message, (value, problem.message)


def test_the_expense_limit_is_exact_money() -> None:
    limits = parse_settings("limits: {max_expense_amount: 2500.10}").limits
    assert limits.max_expense_amount == Decimal("2500.10")
    assert LimitsConfig().max_expense_amount == Decimal(100_000)


def test_rates_built_in_code_from_floats_keep_the_digits_typed() -> None:
    card = RateCardConfig(roles={"a": {"USD": 0.1}, "b": {"USD": 150}})
    assert card.rate("a", "USD") == Decimal("0.1")
    assert card.rate("b", "USD") == Decimal(150)


def test_float_settings_still_read_yaml_floats_as_floats() -> None:
    settings = parse_settings("retry: {initial_delay_seconds: 0.5, max_delay_seconds: 2.5}")
    assert settings.retry.initial_delay_seconds == 0.5
    assert type(settings.retry.max_delay_seconds + 0) is float


def test_the_starter_file_reads_its_rates_exactly() -> None:
    card = parse_settings(starter_config_text()).delivery.rate_card
    assert card.rate("senior_consultant", "USD") == Decimal("190.50")


def test_the_new_sections_have_the_former_defaults() -> None:
    defaults = Settings()
    assert defaults.runtime.engine_log_level == "WARNING"
    assert defaults.runtime.monitors_seconds == 60.0
    assert defaults.time_entries.partitions == 1
    assert defaults.flows == {}  # time_entry batches with its own default (1,000 / 200 ms)


def test_a_flow_batch_is_validated_and_the_former_time_entry_batching_is_refused() -> None:
    settings = parse_settings("flows: {time_entry: {batch: {size: 500, linger_ms: 50}}}")
    assert settings.flows["time_entry"].batch == BatchConfig(size=500, linger_ms=50)
    off = parse_settings("flows: {time_entry: {batch: false}}").flows["time_entry"].batch
    assert off is not None and not off.enabled
    with pytest.raises(ConfigError) as error:
        parse_settings("flows: {time_entry: {batch: {size: 0, linger_ms: -1}}}")
    assert "flows.time_entry.batch.size" in str(error.value)
    assert "flows.time_entry.batch.linger_ms" in str(error.value)
    with pytest.raises(ConfigError) as error:
        parse_settings("time_entries: {batch: true, batch_limit: 200}")
    message = str(error.value)
    assert "time_entries.batch_limit" in message and "flows.time_entry.batch" in message
