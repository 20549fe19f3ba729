"""The two ways a mapping fails, each saying what to fix.

- ``MappingError``: one source record cannot be mapped (a required value is missing, a value does
  not convert). A business-rule failure: flows turn it into an exception record a person fixes in
  the source system (or in the mapping) and replays.
- ``MappingFileError``: a mapping file itself is unreadable or invalid. Configuration, not data:
  nothing can be mapped with it until the file is fixed.
"""

from __future__ import annotations

from typing import Any

from handoff.canonical.errors import BusinessRuleError, PermanentError


class MappingError(BusinessRuleError):
    """A record the mapping cannot turn into a canonical record.

    ``rule`` is ``missing_required``, ``invalid_value`` or ``canonical_validation``; ``context``
    carries ``mapping``, ``version``, ``record``, ``field`` and ``path``.
    """

    def __init__(
        self,
        message: str,
        *,
        mapping: str,
        version: int,
        field: str,
        path: str,
        record_id: str | None,
        rule: str,
        value: Any = None,
        suggested_fix: str | None = None,
    ) -> None:
        super().__init__(
            message,
            rule=rule,
            value=value,
            suggested_fix=suggested_fix,
            context={
                "mapping": mapping,
                "version": version,
                "record": record_id,
                "field": field,
                "path": path,
            },
        )
        self.mapping = mapping
        self.version = version
        self.field = field
        self.path = path
        self.record_id = record_id


class MappingFileError(PermanentError, ValueError):
    """A mapping file that cannot be read or does not describe a valid mapping."""
