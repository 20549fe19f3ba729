"""The one mapping engine: declarative YAML mappings from source records to canonical records.

Connectors register code hooks (``register_hook``) for rules that need code; everything else is
data a firm can read and override in handoff.yaml. See ``spec`` for the file format.
"""

from handoff.mapping.conversions import TRANSFORMS, country_code, register_transform
from handoff.mapping.describe import (
    SampleOutcome,
    describe_mapping,
    diff_mappings,
    map_sample,
    rule_changes,
)
from handoff.mapping.engine import Mapper, lookup
from handoff.mapping.errors import MappingError, MappingFileError
from handoff.mapping.hooks import Hook, hooks_for, register_hook
from handoff.mapping.loader import (
    SHIPPED_MAPPINGS,
    LoadedMapping,
    effective_mappings,
    load_effective,
    load_mapping_file,
    load_override,
    mapping_path,
    parse_mapping,
    read_document,
    shipped_mappings,
)
from handoff.mapping.spec import CANONICAL_MODELS, FieldRule, LinesRule, MappingSpec

__all__ = [
    "CANONICAL_MODELS",
    "SHIPPED_MAPPINGS",
    "TRANSFORMS",
    "FieldRule",
    "Hook",
    "LinesRule",
    "LoadedMapping",
    "Mapper",
    "MappingError",
    "MappingFileError",
    "MappingSpec",
    "SampleOutcome",
    "country_code",
    "describe_mapping",
    "diff_mappings",
    "effective_mappings",
    "hooks_for",
    "load_effective",
    "load_mapping_file",
    "load_override",
    "lookup",
    "map_sample",
    "mapping_path",
    "parse_mapping",
    "read_document",
    "register_hook",
    "register_transform",
    "rule_changes",
    "shipped_mappings",
]
