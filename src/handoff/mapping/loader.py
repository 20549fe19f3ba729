"""Where mappings come from: the shipped defaults, each replaceable by name from handoff.yaml.

Shipped defaults live in ``handoff/mappings/*.yaml``. ``handoff.yaml``'s ``mappings:`` section
names a file for a default (``mappings: {salesforce_deal: mappings/deal.yaml}``); that file then
is the mapping. An override keeps the identity of what it replaces: a missing ``name`` or
``source`` is taken from the default, a different ``name``, ``source`` or ``canonical`` is refused
(the connector that reads it expects that shape), and its ``version`` is compared with the
default's so `handoff mappings show` can say when a firm's copy predates the shipped one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

import handoff
from handoff.mapping.errors import MappingFileError
from handoff.mapping.spec import MappingSpec

if TYPE_CHECKING:
    from handoff.config import Settings

SHIPPED_MAPPINGS = Path(handoff.__file__).resolve().parent / "mappings"
WRITE_BACK_KIND = "write_back"  # documents with `kind: write_back` map hub status to the CRM


@dataclass(frozen=True)
class LoadedMapping:
    """A mapping as the hub uses it, with where it came from."""

    spec: MappingSpec
    path: Path
    shipped: MappingSpec | None  # the default it replaces, when overridden

    @property
    def overridden(self) -> bool:
        return self.shipped is not None

    @property
    def older_than_shipped(self) -> bool:
        return self.shipped is not None and self.spec.version < self.shipped.version


def read_document(path: Path, name: str | None = None) -> dict[str, Any]:
    """A mapping file's YAML as a dict, or a MappingFileError saying what to fix."""
    label = f"mapping {name} ({path})" if name else f"mapping file {path}"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise MappingFileError(
            f"{label} cannot be read: {error.strerror or error}",
            rule="mapping_unreadable",
            value=str(path),
            suggested_fix="Fix the path under `mappings:` in handoff.yaml.",
        ) from None
    except yaml.YAMLError as error:
        raise MappingFileError(
            f"{label} is not valid YAML: {error}",
            rule="mapping_invalid",
            value=str(path),
            suggested_fix="Fix the YAML syntax at the position shown.",
        ) from None
    if not isinstance(data, dict):
        raise MappingFileError(
            f"{label} must be a YAML mapping with name, version, source, canonical and fields",
            rule="mapping_invalid",
            value=str(path),
        )
    return data


def parse_mapping(data: dict[str, Any], path: Path | str = "<text>") -> MappingSpec:
    try:
        return MappingSpec.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
            + (f" (got {e['input']!r})" if isinstance(e.get("input"), str | int | float) else "")
            for e in error.errors(include_url=False)
        )
        raise MappingFileError(
            f"mapping file {path} is invalid: {problems}",
            rule="mapping_invalid",
            value=str(path),
            suggested_fix="Correct the keys named above (see handoff/mapping/spec.py for the format).",
        ) from None


def load_mapping_file(path: Path) -> MappingSpec:
    """One mapping file, validated (a MappingFileError, also a ValueError, when not)."""
    return parse_mapping(read_document(path), path)


@cache
def _shipped() -> dict[str, tuple[Path, MappingSpec]]:
    found: dict[str, tuple[Path, MappingSpec]] = {}
    for path in sorted(SHIPPED_MAPPINGS.glob("*.yaml")):
        data = read_document(path)
        if data.get("kind") == WRITE_BACK_KIND:
            continue
        spec = parse_mapping(data, path)
        if spec.name != path.stem:
            raise MappingFileError(
                f"shipped mapping {path} is named {spec.name!r}", rule="mapping_invalid"
            )
        found[spec.name] = (path, spec)
    return found


def shipped_mappings() -> dict[str, MappingSpec]:
    """The defaults that ship with Handoff, by name."""
    return {name: spec for name, (_, spec) in _shipped().items()}


def load_override(name: str, path: Path) -> LoadedMapping:
    """The file handoff.yaml names for the shipped mapping ``name``, checked against it."""
    shipped = _shipped().get(name)
    if shipped is None:
        raise MappingFileError(
            f"handoff.yaml overrides mapping {name!r}, which does not exist",
            rule="mapping_unknown",
            value=name,
            suggested_fix=f"Use one of: {', '.join(sorted(_shipped()))}.",
        )
    default = shipped[1]
    data = read_document(path, name)
    data.setdefault("name", name)
    data.setdefault("source", default.source)
    for key in ("name", "source", "canonical"):
        expected = getattr(default, key)
        if key in data and data[key] != expected:
            raise MappingFileError(
                f"mapping {name} ({path}) has {key} {data[key]!r}; the mapping it replaces has "
                f"{expected!r}",
                rule="mapping_mismatch",
                value=data[key],
                suggested_fix=f"Set `{key}: {expected}` (an override keeps the shape the "
                "connector reads), or name the file under another mapping.",
            )
    return LoadedMapping(parse_mapping(data, path), Path(path), default)


def load_effective(overrides: Mapping[str, Path] | None = None) -> dict[str, LoadedMapping]:
    """Every mapping in effect: shipped defaults with the overrides applied, by name."""
    overrides = overrides or {}
    loaded = {name: LoadedMapping(spec, path, None) for name, (path, spec) in _shipped().items()}
    for name, path in overrides.items():
        if name not in _write_back_names():  # write-back files are read by their connector
            loaded[name] = load_override(name, Path(path))
    return loaded


@cache
def _write_back_names() -> frozenset[str]:
    return frozenset(
        path.stem
        for path in SHIPPED_MAPPINGS.glob("*.yaml")
        if read_document(path).get("kind") == WRITE_BACK_KIND
    )


def mapping_path(name: str, overrides: Mapping[str, Path] | None = None) -> Path:
    """The file a mapping (or write-back mapping) named ``name`` is read from."""
    override = (overrides or {}).get(name)
    return Path(override) if override else SHIPPED_MAPPINGS / f"{name}.yaml"


def effective_mappings(settings: Settings) -> dict[str, MappingSpec]:
    """The mappings the hub uses with these settings: defaults replaced by ``settings.mappings``."""
    return {name: loaded.spec for name, loaded in load_effective(settings.mappings).items()}
