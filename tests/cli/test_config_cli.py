"""`handoff config check|show` and `handoff init`, run through a Typer app wired as main.py does."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from handoff.cli.config_cmd import config_app, init
from handoff.config import CONFIG_ENV_VAR

SECRET_VALUE = "pat-na1-0123456789abcdef"

app = typer.Typer()
app.add_typer(config_app, name="config")
app.command("init")(init)

runner = CliRunner()

CONFIG = """\
systems:
  hubspot:
    kind: hubspot
    url: https://api.hubapi.com
    credentials:
      access_token: ${HUBSPOT_ACCESS_TOKEN}
    webhook_secret: ${HUBSPOT_CLIENT_SECRET}
flows:
  deal_poll:
    trigger: {poll: {system: hubspot, interval_seconds: 90}}
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (CONFIG_ENV_VAR, "HUBSPOT_ACCESS_TOKEN", "HUBSPOT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_init_writes_a_starter_file_that_passes_check(tmp_path: Path) -> None:
    written = runner.invoke(app, ["init"])
    assert written.exit_code == 0, written.output
    starter = tmp_path / "handoff.yaml"
    assert starter.read_text().startswith("# handoff.yaml")

    checked = runner.invoke(app, ["config", "check"])
    assert checked.exit_code == 0, checked.output
    assert f"{Path('handoff.yaml')}: valid (2 systems, 4 flows, 0 mappings)" in checked.stdout
    # The starter's references are not set in this environment: said, but not fatal.
    assert "warning: systems.odoo.credentials.api_key: ${ODOO_API_KEY} is not available" in (
        checked.stderr
    )


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "handoff.yaml"
    target.parent.mkdir()
    target.write_text("version: 1\n")

    refused = runner.invoke(app, ["init", str(target)])
    assert refused.exit_code == 1
    assert "already exists; use --force" in refused.stderr
    assert target.read_text() == "version: 1\n"

    forced = runner.invoke(app, ["init", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert target.read_text().startswith("# handoff.yaml")


def test_check_lists_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "systems:\n"
        "  odoo:\n"
        "    kind: odoo\n"
        "    database: psa\n"
        "    url: not-a-url\n"
        "    credentials:\n"
        f"      api_key: {SECRET_VALUE}\n"
        "retry:\n"
        "  max_attempts: 0\n"
    )
    result = runner.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{bad}:5:5: systems.odoo.url: invalid URL: relative URL without a base",
        f"{bad}:7:7: systems.odoo.credentials.api_key: a literal secret is not allowed here: "
        "move the value to an environment variable and write ${ENV_VAR} "
        "(or put it in a file and write file:/path)",
        f"{bad}:9:3: retry.max_attempts: must be >= 1",
        f"{bad}: invalid (3 problems)",
    ]
    assert SECRET_VALUE not in result.output


def test_check_reports_yaml_syntax_errors_with_position(tmp_path: Path) -> None:
    broken = tmp_path / "handoff.yaml"
    broken.write_text("flows:\n  a: {trigger: {cron: '* * * * *'}\n")
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 1
    assert result.stderr.startswith("handoff.yaml:3:1: YAML syntax error: ")


def test_check_uses_handoff_config_and_reports_a_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["config", "check"]).stdout.startswith(
        "No configuration file: the embedded defaults apply"
    )
    monkeypatch.setenv(CONFIG_ENV_VAR, str(tmp_path / "nowhere.yaml"))
    missing = runner.invoke(app, ["config", "check"])
    assert missing.exit_code == 1
    assert "cannot read the configuration file: No such file or directory" in missing.stderr


def test_show_prints_references_and_their_status_never_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handoff.yaml").write_text(CONFIG)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", SECRET_VALUE)

    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert SECRET_VALUE not in result.output
    assert result.stdout.startswith("# source: handoff.yaml\n")
    shown = yaml.safe_load(result.stdout)
    hubspot = shown["systems"]["hubspot"]
    assert hubspot["credentials"] == {"access_token": "${HUBSPOT_ACCESS_TOKEN} (set)"}
    assert hubspot["webhook_secret"] == "${HUBSPOT_CLIENT_SECRET} (missing)"
    assert hubspot["timeout_seconds"] == 30.0  # defaults are filled in
    assert shown["flows"]["deal_poll"]["trigger"] == {
        "poll": {"system": "hubspot", "interval_seconds": 90.0}
    }
    assert shown["store"]["url"] == "sqlite:///data/handoff.db"

    as_json = runner.invoke(app, ["config", "show", "--json"])
    assert as_json.exit_code == 0
    assert SECRET_VALUE not in as_json.output
    assert '"access_token": "${HUBSPOT_ACCESS_TOKEN} (set)"' in as_json.stdout


def test_show_refuses_an_invalid_file(tmp_path: Path) -> None:
    (tmp_path / "handoff.yaml").write_text("retry: {max_attempts: -1}\n")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 1
    assert "retry.max_attempts: must be >= 1" in result.stderr
    assert result.stdout == ""


def test_check_names_the_path_of_a_flow_a_source_may_not_start(tmp_path: Path) -> None:
    config = tmp_path / "handoff.yaml"
    config.write_text(
        "systems:\n"
        "  tracker:\n"
        "    kind: http\n"
        "    url: https://time.example\n"
        "    webhook_secret: ${TRACKER_SECRET}\n"
        "    allowed_flows: [time_entry, billing_run, no_such_flow]\n"
    )
    result = runner.invoke(app, ["config", "check", str(config)])
    assert result.exit_code == 1
    for flow in ("billing_run", "no_such_flow"):
        index = 1 if flow == "billing_run" else 2
        assert (
            f"systems.tracker.allowed_flows[{index}]: no flow '{flow}' that a source may start "
            "by name (time_entry)"
        ) in result.stderr
    assert "invalid (2 problems)" in result.stderr
    config.write_text(config.read_text().replace(", billing_run, no_such_flow", ""))
    assert runner.invoke(app, ["config", "check", str(config)]).exit_code == 0
