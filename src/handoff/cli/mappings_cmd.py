"""`handoff mappings show|diff`: the mappings in effect, and what a changed file would alter.

Both read handoff.yaml (``--config``, else $HANDOFF_CONFIG, else ./handoff.yaml) so they show the
mappings the hub actually uses: shipped defaults with the firm's overrides applied. Output is
plain text, one fact per line; ``--json`` gives the same facts to scripts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from handoff.config import ConfigError, load_settings, resolve_config_path
from handoff.mapping import (
    LoadedMapping,
    MappingFileError,
    MappingSpec,
    SampleOutcome,
    load_effective,
    load_override,
    map_sample,
    read_document,
    rule_changes,
)

mappings_app = typer.Typer(
    help="Show the mappings in effect and preview changes to them.", no_args_is_help=True
)

CONFIG_OPTION = typer.Option(
    None,
    "--config",
    "-c",
    help="handoff.yaml to read overrides from (default: $HANDOFF_CONFIG, ./handoff.yaml).",
)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _effective(config: Path | None) -> dict[str, LoadedMapping]:
    try:
        settings = load_settings(resolve_config_path(config))
    except ConfigError as error:
        raise _fail(str(error)) from None
    try:
        return load_effective(settings.mappings)
    except MappingFileError as error:
        raise _fail(
            f"{error.message}\n  fix: {error.suggested_fix}"
            if error.suggested_fix
            else error.message
        ) from None


def _origin(loaded: LoadedMapping) -> str:
    if loaded.shipped is None:
        return f"shipped default {loaded.path}"
    note = f"overridden by {loaded.path} (shipped default is v{loaded.shipped.version})"
    if loaded.older_than_shipped:
        note += "; WARNING: the override predates the shipped version, compare them with `handoff mappings diff`"
    return note


def _rule_rows(spec: MappingSpec) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"field": name, "from": None, "constant": value} for name, value in spec.constants.items()
    ]
    for name, rule in spec.fields.items():
        rows.append(
            {
                "field": name,
                "from": rule.source,
                "type": rule.type,
                "map": rule.map,
                "transform": rule.transform,
                "default": rule.default,
                "required": rule.required,
            }
        )
    return rows


def _spec_json(loaded: LoadedMapping) -> dict[str, Any]:
    spec = loaded.spec
    return {
        "name": spec.name,
        "version": spec.version,
        "source": spec.source,
        "object": spec.object,
        "canonical": spec.canonical,
        "file": str(loaded.path),
        "overridden": loaded.overridden,
        "shipped_version": loaded.shipped.version if loaded.shipped else spec.version,
        "fields": _rule_rows(spec),
        "hooks": spec.hooks,
        "lines": spec.lines.model_dump(by_alias=True) if spec.lines else None,
    }


@mappings_app.command("show")
def show(
    name: str | None = typer.Argument(None, help="A mapping name; all of them when omitted."),
    config: Path | None = CONFIG_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """The effective mapping: where each canonical field comes from and how, and which file."""
    effective = _effective(config)
    if name is not None and name not in effective:
        raise _fail(f"no mapping named {name!r}; known: {', '.join(sorted(effective))}")
    chosen = [effective[name]] if name else [effective[n] for n in sorted(effective)]
    if as_json:
        typer.echo(json.dumps([_spec_json(loaded) for loaded in chosen], indent=2, default=str))
        return
    if name is None:
        for loaded in chosen:
            spec = loaded.spec
            typer.echo(
                f"{spec.name:<22} v{spec.version:<3} {spec.source} {spec.object} -> {spec.canonical}"
                f"  [{'overridden' if loaded.overridden else 'default'}: {loaded.path}]"
            )
        return
    loaded = effective[name]
    spec = loaded.spec
    typer.echo(f"{spec.name} v{spec.version}: {spec.source} {spec.object} -> {spec.canonical}")
    typer.echo(f"file: {_origin(loaded)}")
    width = max([len(n) for n in [*spec.fields, *spec.constants]] + [5])
    for field, value in spec.constants.items():
        typer.echo(f"  {field:<{width}} = {value!r} (constant)")
    for field, rule in spec.fields.items():
        how = rule.describe()
        typer.echo(f"  {field:<{width}} <- {rule.source}" + (f"  ({how})" if how else ""))
    for hook in spec.hooks:
        typer.echo(f"  hook: {hook}")
    if spec.lines:
        typer.echo(f"  {'lines':<{width}} <- {spec.lines.source} via {spec.lines.mapping}")


def _samples(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise _fail(f"sample {path} is not readable JSON: {error}") from None
    records = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in records):
        raise _fail(f"sample {path} must hold a source record (a JSON object) or a list of them")
    return records


def _changed_fields(before: SampleOutcome, after: SampleOutcome) -> list[str]:
    if before.canonical is None or after.canonical is None:
        return []
    old, new = before.canonical, after.canonical
    return [
        f"{k}: {json.dumps(old.get(k))} -> {json.dumps(new.get(k))}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]


def _outcome_text(label: str, outcome: SampleOutcome) -> list[str]:
    if outcome.error is not None:
        return [f"  {label}: ERROR {outcome.error}"]
    body = json.dumps(outcome.canonical, indent=2, sort_keys=True).replace("\n", "\n    ")
    return [f"  {label}:", f"    {body}"]


@mappings_app.command("diff")
def diff(
    file: Path = typer.Argument(..., help="The changed mapping file."),
    against: str | None = typer.Option(
        None, "--against", help="Mapping to compare with (default: the file's `name`)."
    ),
    sample: Path | None = typer.Option(
        None, "--sample", help="JSON source record (or list of records) to map before and after."
    ),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """What using FILE would alter compared with the effective mapping it replaces."""
    effective = _effective(config)
    try:
        name = against or read_document(file).get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"{file} has no `name`: pass --against NAME")
        if name not in effective:
            raise _fail(f"no mapping named {name!r}; known: {', '.join(sorted(effective))}")
        proposed = load_override(name, file).spec
    except MappingFileError as error:
        raise _fail(
            f"{error.message}" + (f"\n  fix: {error.suggested_fix}" if error.suggested_fix else "")
        ) from None
    current = effective[name]
    typer.echo(
        f"{file} ({proposed.name} v{proposed.version}) against {name} v{current.spec.version} "
        f"[{'overridden' if current.overridden else 'default'}: {current.path}]"
    )
    changes = rule_changes(current.spec, proposed)
    for line in changes or ["no change to the mapping rules"]:
        typer.echo(f"  {line}")
    if sample is None:
        return
    registry_before = {n: loaded.spec for n, loaded in effective.items()}
    registry_after = {**registry_before, name: proposed}
    for position, record in enumerate(_samples(sample), start=1):
        before = map_sample(current.spec, record, registry_before)
        after = map_sample(proposed, record, registry_after)
        typer.echo(f"sample {position}:")
        for outcome in {before.hooks_skipped, after.hooks_skipped} - {None}:
            typer.echo(f"  note: code hooks not run ({outcome}); declarative rules only")
        for line in [*_outcome_text("before", before), *_outcome_text("after", after)]:
            typer.echo(line)
        changed = _changed_fields(before, after)
        if before.error is None and after.error is None:
            typer.echo("  changed: none" if not changed else "  changed:")
            for line in changed:
                typer.echo(f"    {line}")
