"""Named code hooks: the rules of a mapping that need code, registered per connector.

A hook runs after the declarative field rules, reads the source record and the values mapped so
far, and sets further values (or raises ``MappingError`` / ``BusinessRuleError``). ``context`` is
whatever the connector passes to the mapper (for HubSpot: the account's deal pipelines).

Hooks of source ``X`` are registered by the module ``handoff.connectors.X.mapping`` when it is
imported; the spec loader imports it before checking the hook names a mapping file uses.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol


class HookFunction(Protocol):
    def __call__(self, record: dict[str, Any], values: dict[str, Any], context: Any) -> None: ...


@dataclass(frozen=True)
class Hook:
    source: str
    name: str
    function: HookFunction
    reads: tuple[str, ...]  # source paths the hook reads, so connectors request them
    description: str


_HOOKS: dict[tuple[str, str], Hook] = {}


def register_hook(
    source: str,
    name: str,
    function: HookFunction,
    *,
    reads: tuple[str, ...] = (),
    description: str = "",
) -> Hook:
    existing = _HOOKS.get((source, name))
    if existing is not None and existing.function is not function:
        raise ValueError(f"hook {name!r} is already registered for {source}")
    hook = Hook(source, name, function, reads, description or (function.__doc__ or "").strip())
    _HOOKS[(source, name)] = hook
    return hook


def hooks_for(source: str) -> dict[str, Hook]:
    """The hooks a mapping of ``source`` may name (importing the connector's hook module)."""
    module = f"handoff.connectors.{source}.mapping"
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as missing:
        if missing.name not in (module, f"handoff.connectors.{source}"):
            raise
    return {name: hook for (owner, name), hook in _HOOKS.items() if owner == source}
