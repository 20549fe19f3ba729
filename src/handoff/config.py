"""Handoff's configuration: one `handoff.yaml`, validated into typed, immutable settings.

Policy is configuration: which system owns which domain, how flows are triggered, where
mappings live, retry / rate-limit / circuit-breaker policy and alerting. Every section is
optional, so an empty file (or none at all) gives a working embedded default.

Secrets are never written in the file: a credential is a `SecretRef` (`${ENV_VAR}` or
`file:/path`) resolved only when a connector calls `.reveal()`. Validation is strict
(unknown keys are typos, "30" is not a number) and reports every problem at once, each with
its dotted path and YAML line, without ever echoing the offending value.
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    HttpUrl,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

CONFIG_ENV_VAR = "HANDOFF_CONFIG"
DATABASE_URL_ENV_VAR = "HANDOFF_DATABASE_URL"
DEFAULT_CONFIG_FILE = Path("handoff.yaml")
DEFAULT_STORE_URL = "sqlite:///data/handoff.db"

SystemKind = Literal["odoo", "hubspot", "salesforce", "stripe", "docusign", "http"]
# The partner field groups a firm may give to another system than the customer's owner
# (``ownership.field_groups``); ``handoff.customers.ownership`` says which fields each covers.
CustomerFieldGroup = Literal["identity", "address", "contact", "billing"]
CUSTOMER_FIELD_GROUPS: tuple[CustomerFieldGroup, ...] = typing.get_args(CustomerFieldGroup)
Severity = Literal["info", "warning", "error", "critical"]
SEVERITIES: tuple[Severity, ...] = typing.get_args(Severity)
TriggerKind = Literal["poll", "cron"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


# ── Secrets ──────────────────────────────────────────────────────────────────────────────


class SecretUnavailableError(RuntimeError):
    """A secret reference could not be resolved. The message names the reference, never a value."""


_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")


class SecretRef:
    """A reference to a secret (`${ENV_VAR}` or `file:/path`), resolved lazily by `reveal()`.

    The value is read on every `reveal()` and never kept, so rotating a secret needs no
    restart, and no repr, str, dump or error of this object can contain it.
    """

    __slots__ = ("_env_name", "_file", "reference")

    def __init__(self, reference: str, *, base_dir: Path | None = None) -> None:
        self.reference = reference
        self._env_name: str | None = None
        self._file: Path | None = None
        if env := _ENV_REFERENCE.fullmatch(reference):
            self._env_name = env["name"]
        elif reference.startswith("file:") and reference[len("file:") :].strip():
            file = Path(reference[len("file:") :]).expanduser()
            self._file = file if file.is_absolute() else (base_dir or Path.cwd()) / file
        elif reference.startswith("${"):
            raise ValueError(
                "malformed environment reference: write ${NAME} "
                "(letters, digits and _, not starting with a digit)"
            )
        else:
            raise ValueError(
                "a literal secret is not allowed here: move the value to an environment "
                "variable and write ${ENV_VAR} (or put it in a file and write file:/path)"
            )

    @classmethod
    def env(cls, name: str) -> SecretRef:
        return cls(f"${{{name}}}")

    @classmethod
    def file(cls, path: Path | str) -> SecretRef:
        return cls(f"file:{path}")

    @property
    def source(self) -> str:
        """Where the value comes from: `env:NAME` or the absolute file path."""
        return f"env:{self._env_name}" if self._env_name else f"file:{self._file}"

    def reveal(self) -> str:
        """The secret's current value. Call it at the point of use; never log the result."""
        if self._env_name is not None:
            value = os.environ.get(self._env_name)
            if not value:
                state = "is empty" if value == "" else "is not set"
                raise SecretUnavailableError(
                    f"environment variable {self._env_name} {state} (referenced as {self.reference})"
                )
            return value
        assert self._file is not None
        try:
            value = self._file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise SecretUnavailableError(
                f"cannot read secret file {self._file} (referenced as {self.reference}): "
                f"{error.strerror or type(error).__name__}"
            ) from None
        if not value:
            raise SecretUnavailableError(
                f"secret file {self._file} is empty (referenced as {self.reference})"
            )
        return value

    def is_available(self) -> bool:
        try:
            self.reveal()
        except SecretUnavailableError:
            return False
        return True

    def status(self) -> Literal["set", "missing"]:
        return "set" if self.is_available() else "missing"

    def __repr__(self) -> str:
        return f"SecretRef({self.reference!r})"

    def __str__(self) -> str:
        return self.reference

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            cls._validate,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda ref: ref.reference, when_used="json"
            ),
        )

    @classmethod
    def _validate(cls, value: Any, info: ValidationInfo) -> SecretRef:
        if isinstance(value, SecretRef):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError(
                "secret_reference", "must be a secret reference: ${ENV_VAR} or file:/path"
            )
        try:
            return cls(value, base_dir=_context(info).get("base_dir"))
        except ValueError as error:
            raise PydanticCustomError("secret_reference", str(error)) from None


REDACTED = "***"
_SENSITIVE_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "authorization",
        "auth",
        "cookie",
        "credential",
        "credentials",
        "apikey",
    }
)
_SENSITIVE_WORD_PAIRS = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("session", "id")}
)
# Anchored on the literal "://", with no two quantifiers able to match the same characters: one
# pass over the text (linear), whatever it holds. The scheme before "://" is checked by looking
# back a bounded number of characters (``_has_scheme``), not by the pattern: a pattern starting
# with ``[A-Za-z][A-Za-z0-9+.-]*`` retries from every letter and is quadratic on a long word (a
# 5 MB description froze the hub for minutes, holding the interpreter lock).
_URL_PASSWORD = re.compile(r"://(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_SCHEME_LOOKBACK = 64


def is_sensitive_key(key: object) -> bool:
    """Whether a dict key names a secret (`password`, `X-Api-Key`, `accessToken`, ...)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(key))
    words = [word for word in re.split(r"[^a-z0-9]+", spaced.lower()) if word]
    return bool(_SENSITIVE_WORDS.intersection(words)) or any(
        pair in _SENSITIVE_WORD_PAIRS for pair in itertools.pairwise(words)
    )


def redact(obj: Any) -> Any:
    """A copy of `obj` safe to log or audit: values under secret-looking keys become "***",
    passwords inside URLs are masked and `SecretRef`s become their reference."""
    if isinstance(obj, Mapping):
        return {
            key: REDACTED if is_sensitive_key(key) else redact(value) for key, value in obj.items()
        }
    if isinstance(obj, list | tuple | set | frozenset):
        return [redact(item) for item in obj]
    if isinstance(obj, SecretRef):
        return obj.reference
    if isinstance(obj, BaseModel):
        return redact(obj.model_dump(mode="json"))
    if isinstance(obj, str):
        return _mask_url_passwords(obj)
    return obj


def _has_scheme(text: str, end: int) -> bool:
    """Whether ``text[:end]`` ends with a URL scheme (a letter, then letters, digits, + . -)."""
    start = end
    while start > 0 and end - start < _SCHEME_LOOKBACK and text[start - 1] in _SCHEME_CHARS:
        start -= 1
    return any(char.isascii() and char.isalpha() for char in text[start:end])


def _mask_url_passwords(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user:***@host``, in time linear in the text."""
    if "://" not in text:
        return text
    parts: list[str] = []
    done = 0
    for match in _URL_PASSWORD.finditer(text):
        if not _has_scheme(text, match.start()):
            continue
        parts += [text[done : match.start("password")], REDACTED]
        done = match.end("password")
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


# ── Validators shared by the models ──────────────────────────────────────────────────────


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context if isinstance(info.context, dict) else {}


def _known_system(name: str, info: ValidationInfo) -> str:
    """Cross-check a reference to a system against the file's `systems` section."""
    known = _context(info).get("system_names")
    if known is not None and name not in known:
        raise PydanticCustomError(
            "unknown_system",
            "unknown system '{name}' ({known})",
            {"name": name, "known": _describe_systems(known)},
        )
    return name


def _describe_systems(names: typing.Iterable[str]) -> str:
    names = sorted(names)
    return f"defined in systems: {', '.join(names)}" if names else "no systems are defined"


def _startable_flow(name: str, info: ValidationInfo) -> str:
    """Cross-check a flow a source may start against the flows that declare an input model
    (``handoff.flows.routing``); the caller passes them, this module imports no flow."""
    startable = _context(info).get("startable_flows")
    if startable is not None and name not in startable:
        raise PydanticCustomError(
            "unknown_flow",
            "no flow '{name}' that a source may start by name ({known})",
            {"name": name, "known": ", ".join(sorted(startable)) or "none"},
        )
    return name


def _valid_cron(expression: str) -> str:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron expression: expected 5 fields (minute hour day-of-month month "
            f"day-of-week), got {len(fields)}"
        )
    if not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}: a field is out of range")
    return expression


def _valid_field_group(key: str) -> str:
    domain, _, group = key.partition(".")
    if domain != "customer" or group not in CUSTOMER_FIELD_GROUPS:
        raise ValueError(
            "field group must be 'customer.<group>' with group one of "
            f"{', '.join(CUSTOMER_FIELD_GROUPS)} (only customers are written field by field)"
        )
    return key


def _exact_decimal(value: Any) -> Any:
    """A number from the file as the decimal it was written as: ``150.50`` is Decimal("150.50"),
    ``0.1`` is exactly one tenth. YAML floats arrive as ``_YamlFloat`` carrying their text (see
    ``_ExactLoader``); a float built in code is read by its shortest repr (what was typed). Text
    stays refused, as for every other number ("30" is not a number)."""
    if isinstance(value, bool):
        return value  # refused by the strict Decimal schema, as True is not an amount
    if isinstance(value, _YamlFloat):
        number = value.decimal
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        return value
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number


def _existing_mapping_file(path: Path, info: ValidationInfo) -> Path:
    resolved = path if path.is_absolute() else _context(info).get("base_dir", Path.cwd()) / path
    if not resolved.is_file():
        raise ValueError(f"mapping file not found: {path} (looked for {resolved})")
    return resolved


def _database_url(url: str, info: ValidationInfo) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("invalid SQLAlchemy database URL") from None
    # In a file a password is an inlined secret; in code (tests, tools) the URL came from
    # the environment already.
    if parsed.password is not None and _context(info).get("from_file"):
        raise ValueError(
            f"a password is not allowed in the file: set the whole URL in the "
            f"{DATABASE_URL_ENV_VAR} environment variable instead"
        )
    return url


def _path_from_text(value: Any) -> Any:
    return Path(value) if isinstance(value, str) else value


SystemName = Annotated[str, AfterValidator(_known_system)]
SystemKey = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
FlowKey = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
ModuleName = Annotated[str, Field(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$", max_length=200)]
StartableFlow = Annotated[FlowKey, AfterValidator(_startable_flow)]
CronExpression = Annotated[str, AfterValidator(_valid_cron)]
FieldGroup = Annotated[str, AfterValidator(_valid_field_group)]
MappingFile = Annotated[
    Path, BeforeValidator(_path_from_text), AfterValidator(_existing_mapping_file)
]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
ExactDecimal = Annotated[Decimal, BeforeValidator(_exact_decimal)]


# ── Sections ─────────────────────────────────────────────────────────────────────────────


class Section(BaseModel):
    """Base of every section: strict types, unknown keys rejected, immutable, inputs never
    echoed in validation errors (they may be secrets)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)


class StoreConfig(Section):
    """Where Handoff keeps its own tables (`url`) and the durable engine's state (`system_url`)."""

    url: DatabaseUrl | None = None
    system_url: DatabaseUrl | None = None


class RateLimit(Section):
    calls: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class BreakerPolicy(Section):
    """Circuit breaker per target system: opens after `failure_threshold` consecutive
    transient failures, stays open `cooldown_seconds`, then lets exactly one call probe (across
    every process) while the others wait for its outcome."""

    failure_threshold: int = Field(default=5, ge=1)
    cooldown_seconds: float = Field(default=30.0, gt=0)
    # How long the one probe may take to report before it is presumed lost (its process died)
    # and the next caller probes instead.
    probe_timeout_seconds: float = Field(default=60.0, gt=0)


class SystemConfig(Section):
    """One external system Handoff talks to."""

    kind: SystemKind
    url: HttpUrl | None = Field(default=None, validate_default=True)
    database: str | None = Field(
        default=None, validate_default=True
    )  # Odoo only: the database name
    username: str | None = None
    credentials: dict[str, SecretRef] = {}
    timeout_seconds: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=8, ge=1)  # max flows in flight against this system
    # Max flows of this system one worker process runs at once (default: ``concurrency``, so one
    # worker may take the whole system). Lower it to spread a system's flows over several
    # workers: with ``concurrency: 24`` and ``worker_concurrency: 8``, three workers share it.
    worker_concurrency: int | None = Field(default=None, ge=1)
    rate_limit: RateLimit | None = None
    circuit_breaker: BreakerPolicy = BreakerPolicy()
    webhook_secret: SecretRef | None = None
    # The flows this system may start by name on the generic signed webhook
    # `POST /webhooks/events/<system>`. Deny by default: an empty list starts none. Payment
    # events come only from Stripe's own `/webhooks/stripe`, never from here.
    allowed_flows: list[StartableFlow] = []
    # A private CA to trust for this system's TLS (a sandbox's self-signed certificate).
    tls_ca_file: Annotated[Path, BeforeValidator(_path_from_text)] | None = None
    # A source (a CRM, Stripe, a time tracker): the Odoo system its events feed, by name. Unset:
    # the only Odoo system of the file (with two or more, a source that feeds one must say which).
    odoo: SystemName | None = None

    @field_validator("url")
    @classmethod
    def _url_required(cls, url: HttpUrl | None, info: ValidationInfo) -> HttpUrl | None:
        kind = info.data.get("kind")
        if url is None and kind is not None:
            raise ValueError(f"required for kind '{kind}'")
        return url

    @field_validator("database")
    @classmethod
    def _database_for_odoo(cls, database: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == "odoo" and not database:
            raise ValueError("required for kind 'odoo' (the name of the Odoo database)")
        if kind not in (None, "odoo") and database is not None:
            raise ValueError("only used by kind 'odoo'")
        return database

    @field_validator("odoo")
    @classmethod
    def _odoo_for_sources(cls, odoo: str | None, info: ValidationInfo) -> str | None:
        if odoo is not None and info.data.get("kind") == "odoo":
            raise ValueError("an Odoo system feeds no other Odoo: set odoo on its sources")
        return odoo

    @field_validator("allowed_flows")
    @classmethod
    def _allowed_flows_need_a_secret(cls, allowed: list[str], info: ValidationInfo) -> list[str]:
        if allowed and info.data.get("webhook_secret") is None:
            raise ValueError("needs webhook_secret: only a signed request may start a flow")
        if len(set(allowed)) != len(allowed):
            raise ValueError("lists a flow twice")
        return allowed

    @property
    def base_url(self) -> str | None:
        """`url` as text without the trailing slash pydantic adds, ready for `base_url + path`."""
        return str(self.url).rstrip("/") if self.url is not None else None

    def secret(self, name: str) -> SecretRef:
        """The credential reference `name`, with an error that lists the ones configured."""
        try:
            return self.credentials[name]
        except KeyError:
            configured = ", ".join(sorted(self.credentials)) or "none"
            raise LookupError(
                f"no credential '{name}' in this system's credentials (configured: {configured})"
            ) from None


class OwnershipConfig(Section):
    """Which system's values overwrite an Odoo customer's (``handoff.customers.ownership``):
    ``customer`` owns every partner field group, unless ``field_groups`` gives a group
    (``customer.billing``) to another system. With no owner a source only fills empty fields.
    The other domains' flows fix their direction in code (deals come from the CRM, invoices
    from Odoo), so they have no setting here (see ``REMOVED_SETTINGS``)."""

    customer: SystemName | None = None
    field_groups: dict[FieldGroup, SystemName] = {}  # "customer.<group>" -> system

    def customer_owner(self, group: str | None = None) -> str | None:
        """The system whose values win for a partner field group (else the customer's owner)."""
        if group is not None and (owner := self.field_groups.get(f"customer.{group}")):
            return owner
        return self.customer


class PollTrigger(Section):
    system: SystemName
    interval_seconds: float = Field(default=60.0, gt=0)


class TriggerConfig(Section):
    """Exactly one of: `poll: {system, interval_seconds}`, `cron: "..."`. Webhooks need no
    trigger: a system with a `webhook_secret` posts to its route."""

    poll: PollTrigger | None = None
    cron: CronExpression | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TriggerConfig:
        chosen = [name for name in typing.get_args(TriggerKind) if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "set exactly one of poll, cron"
                + (f" (found {', '.join(chosen)})" if chosen else "")
            )
        return self

    @property
    def kind(self) -> TriggerKind:
        return next(
            name for name in typing.get_args(TriggerKind) if getattr(self, name) is not None
        )


class BatchConfig(Section):
    """How a batching flow groups its events into runs (``flows.<name>.batch``): the waiting
    events of one entity (a partition of time entries, a deal) go to one run once ``size`` of
    them wait, or once the oldest has waited ``linger_ms`` (and no run of that entity still
    waits in the queue, which would only queue behind it: the group grows meanwhile)."""

    enabled: bool = True  # ``batch: false`` reads as ``{enabled: false}``
    size: int = Field(default=1000, ge=1, le=100_000)
    linger_ms: int = Field(default=200, ge=0, le=60_000)


class FlowConfig(Section):
    """``batch``: for a flow that takes batches (``time_entry``), its size and linger time
    (default: the flow's own, ``time_entry`` 1,000 entries / 200 ms); ``false``: one run per
    event, the slow path. A flow that takes no batch refuses the key when the hub starts."""

    enabled: bool = True
    trigger: TriggerConfig | None = None  # None: started by webhooks or by other flows
    queue: SystemName | None = None  # the target system whose queue limits this flow's calls
    batch: BatchConfig | None = None

    @field_validator("batch", mode="before")
    @classmethod
    def _batch_false(cls, value: Any) -> Any:
        return {"enabled": False} if value is False else value


class RetryPolicy(Section):
    """Exponential backoff with jitter for retryable errors, bounded in attempts."""

    max_attempts: int = Field(default=6, ge=1)
    initial_delay_seconds: float = Field(default=1.0, ge=0)
    max_delay_seconds: float = Field(default=300.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)
    jitter: bool = True

    @field_validator("max_delay_seconds")
    @classmethod
    def _not_below_initial(cls, max_delay: float, info: ValidationInfo) -> float:
        initial = info.data.get("initial_delay_seconds")
        if initial is not None and max_delay < initial:
            raise ValueError("must be >= initial_delay_seconds")
        return max_delay


class AlertChannel(Section):
    """Where alerts go. `target`: a webhook URL (or a `${ENV_VAR}` reference to one, since
    chat webhook URLs embed a token) that gets a small JSON POST, or an optional logger name."""

    kind: Literal["log", "webhook"]
    target: str | None = Field(default=None, validate_default=True)
    min_severity: Severity = "warning"

    @field_validator("target")
    @classmethod
    def _target_fits_kind(cls, target: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == "webhook":
            if target is None:
                raise ValueError("required for kind 'webhook'")
            if not (re.match(r"https?://", target) or _is_secret_reference(target)):
                raise ValueError("must be an http(s) URL or a ${ENV_VAR} / file:/path reference")
        return target

    def target_value(self) -> str | None:
        """The target, with a secret reference resolved (call at the point of use)."""
        if self.target is not None and _is_secret_reference(self.target):
            return SecretRef(self.target).reveal()
        return self.target


def _is_secret_reference(text: str) -> bool:
    return bool(_ENV_REFERENCE.fullmatch(text)) or text.startswith("file:")


class AlertsConfig(Section):
    """What is alerted and where (``handoff.engine.alerts``): open exceptions reaching
    ``open_exceptions_threshold`` (error) and an open circuit to a system (critical), checked
    every ``runtime.alerts_seconds``, each sent to the channels whose ``min_severity`` it meets.
    ``webhook_timeout_seconds`` bounds one POST, so a dead receiver cannot stall the hub."""

    channels: list[AlertChannel] = [AlertChannel(kind="log")]
    open_exceptions_threshold: int = Field(
        default=25, ge=1
    )  # alert when this many exceptions are open
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)


# ── Delivery (deal to delivery: validation rules and the Odoo plan) ──────────────────────

BillingModelName = Literal["time_materials", "fixed_fee", "milestone", "retainer"]
Gate = Literal["signed_sow", "deposit_paid", "approval"]


def _currency_code(code: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"'{code}' is not an ISO 4217 currency code (three capitals: USD, EUR)")
    return code


CurrencyCode = Annotated[str, AfterValidator(_currency_code)]
_PROJECT_NAME_FIELDS = frozenset({"deal", "customer", "reference", "order"})


def _product_shorthand(value: Any) -> Any:
    """`SKU: SVC-TM` is short for `SKU: {product: SVC-TM}`."""
    return {"product": value} if isinstance(value, str) else value


def _project_name_pattern(pattern: str) -> str:
    import string

    try:
        names = {field for _, field, _, _ in string.Formatter().parse(pattern) if field is not None}
    except ValueError as error:
        raise ValueError(f"invalid name pattern: {error}") from None
    unknown = sorted(names - _PROJECT_NAME_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown placeholder {{{unknown[0]}}} "
            f"(allowed: {', '.join('{' + name + '}' for name in sorted(_PROJECT_NAME_FIELDS))})"
        )
    return pattern


class CatalogEntry(Section):
    """An Odoo product (its `default_code`) and, optionally, the rate-card role that prices a
    line sold without a unit price."""

    product: str = Field(min_length=1)
    role: str | None = None


CatalogTarget = Annotated[CatalogEntry, BeforeValidator(_product_shorthand)]


class NamePatternEntry(Section):
    """A deal line whose name matches `pattern` (shell-style, case-insensitive: `*audit*`)."""

    pattern: str = Field(min_length=1)
    product: str = Field(min_length=1)
    role: str | None = None


class ServiceCatalog(Section):
    """CRM line -> Odoo service product. Tried in order: `by_sku`, `by_product_id` (the CRM's
    product id), `by_name`; a line with no sku that matches none uses `by_billing_model`."""

    by_sku: dict[str, CatalogTarget] = {}
    by_product_id: dict[str, CatalogTarget] = {}
    by_name: list[NamePatternEntry] = []
    by_billing_model: dict[BillingModelName, CatalogTarget] = {}


class ProjectTemplateConfig(Section):
    """The project a won deal gets. `project_name` may use {deal}, {customer}, {reference} and
    {order}; `odoo_project` names an existing Odoo project to copy (checked before writing)."""

    project_name: Annotated[str, AfterValidator(_project_name_pattern)] = "{order} - {deal}"
    tasks: list[str] = []
    stages: list[str] = []
    odoo_project: str | None = None


class RateCardConfig(Section):
    """Hourly rate per role and currency: it prices a deal line sold without a unit price, by
    the role its catalog entry names. Rates are ``Decimal`` exactly as written (``150.50`` is
    150.50, never the float nearest to it)."""

    roles: dict[str, dict[CurrencyCode, ExactDecimal]] = {}

    @field_validator("roles")
    @classmethod
    def _rates_not_negative(
        cls, roles: dict[str, dict[str, Decimal]]
    ) -> dict[str, dict[str, Decimal]]:
        for role, rates in roles.items():
            for currency, rate in rates.items():
                if rate < 0:
                    raise ValueError(f"rate of '{role}' in {currency} must be >= 0")
        return roles

    def rate(self, role: str, currency: str) -> Decimal | None:
        return self.roles.get(role, {}).get(currency)


def _catalog_entries(
    catalog: ServiceCatalog,
) -> Iterator[tuple[str, CatalogEntry | NamePatternEntry]]:
    for key, entry in catalog.by_sku.items():
        yield f"by_sku.{key}", entry
    for key, entry in catalog.by_product_id.items():
        yield f"by_product_id.{key}", entry
    for index, named in enumerate(catalog.by_name):
        yield f"by_name[{index}]", named
    for model, entry in catalog.by_billing_model.items():
        yield f"by_billing_model.{model}", entry


class DeliveryDefaults(Section):
    """Used when a deal leaves the field empty."""

    legal_entity: str | None = None
    payment_terms: str | None = None
    tax_profile: str | None = None
    project_template: str | None = None


class DeliveryConfig(Section):
    """What a won deal must satisfy before anything is written to Odoo, and how it maps there."""

    # CRM system -> pipeline -> stage ids meaning won; a pipeline not listed uses the CRM's own
    # won flag (HubSpot stage metadata, Salesforce IsWon).
    won_stages: dict[SystemName, dict[str, list[str]]] = {}
    gates: list[Gate] = []  # activation gates for every pipeline...
    pipeline_gates: dict[str, list[Gate]] = {}  # ...unless the pipeline has its own list
    legal_entities: dict[str, str] = {}  # deal legal entity -> Odoo res.company name
    payment_terms: dict[str, str] = {}  # CRM billing terms -> Odoo account.payment.term name
    tax_profiles: dict[str, list[str]] = {}  # profile -> Odoo sale account.tax names
    rate_card: RateCardConfig = RateCardConfig()
    service_catalog: ServiceCatalog = ServiceCatalog()
    project_templates: dict[str, ProjectTemplateConfig] = {}
    currencies: list[CurrencyCode] = []  # allowed; empty: any currency active in Odoo
    amendments: Literal["order_lines", "exception"] = "exception"
    require_account_owner: bool = True
    defaults: DeliveryDefaults = DeliveryDefaults()

    # Declared after what they refer to, so each check sees it and reports at its own path.
    @field_validator("service_catalog")
    @classmethod
    def _catalog_roles_known(cls, catalog: ServiceCatalog, info: ValidationInfo) -> ServiceCatalog:
        rate_card = info.data.get("rate_card")
        if isinstance(rate_card, RateCardConfig):
            unknown = [
                f"{path} uses unknown rate-card role '{entry.role}'"
                for path, entry in _catalog_entries(catalog)
                if entry.role is not None and entry.role not in rate_card.roles
            ]
            if unknown:
                known = ", ".join(sorted(rate_card.roles)) or "none"
                raise ValueError("; ".join(unknown) + f" (rate_card.roles: {known})")
        return catalog

    @field_validator("defaults")
    @classmethod
    def _defaults_known(cls, defaults: DeliveryDefaults, info: ValidationInfo) -> DeliveryDefaults:
        problems = []
        for field, table_name in (
            ("legal_entity", "legal_entities"),
            ("payment_terms", "payment_terms"),
            ("tax_profile", "tax_profiles"),
            ("project_template", "project_templates"),
        ):
            value, table = getattr(defaults, field), info.data.get(table_name)
            if value is not None and table and value not in table:
                known = ", ".join(sorted(table))
                problems.append(f"{field} '{value}' is not in {table_name} ({known})")
        if problems:
            raise ValueError("; ".join(problems))
        return defaults

    def catalog_entries(self) -> Iterator[tuple[str, CatalogEntry | NamePatternEntry]]:
        """Every catalog entry with its path under `service_catalog`."""
        return _catalog_entries(self.service_catalog)

    def odoo_product_codes(self) -> set[str]:
        """The Odoo `default_code`s the catalog refers to."""
        return {entry.product for _, entry in self.catalog_entries()}

    def gates_for(self, pipeline: str | None) -> list[Gate]:
        if pipeline is not None and pipeline in self.pipeline_gates:
            return list(self.pipeline_gates[pipeline])
        return list(self.gates)

    def won_stage_ids(self, system: str, pipeline: str | None) -> list[str] | None:
        """Stage ids that mean won in this pipeline, or None: use the CRM's own won flag."""
        stages = self.won_stages.get(system, {}).get(pipeline or "")
        return list(stages) if stages else None

    def is_won(
        self, system: str, pipeline: str | None, stage: str | None, crm_says_won: bool
    ) -> bool:
        """Whether a deal in `stage` is won: the configured stage ids, else the CRM's own flag."""
        stages = self.won_stage_ids(system, pipeline)
        return crm_says_won if stages is None else stage in stages


class UnknownSystemError(LookupError):
    pass


# The kinds of source whose events start Odoo flows (a generic `http` source only when it may
# start a flow): with several Odoo systems each must name its own (``systems.<name>.odoo``).
ODOO_FEEDING_KINDS = frozenset({"hubspot", "salesforce", "stripe"})


def _feeds_odoo(system: SystemConfig) -> bool:
    return system.kind in ODOO_FEEDING_KINDS or (
        system.kind == "http" and bool(system.allowed_flows)
    )


def _describe_kind(names: list[str], kind: str) -> str:
    return f"{kind} systems: {', '.join(names)}" if names else f"no {kind} system is defined"


class BillingConfig(Section):
    """How the invoice run treats its proposals (the schedule is flows.billing_run.trigger.cron).

    ``require_approval``: proposals wait for ``handoff billing approve`` — Handoff's own approval
    step, the one Odoo-logged time (Odoo Community has no timesheet approval) passes before it is
    invoiced. ``post``: invoices are posted, not left as drafts for finance.
    ``unbilled_after_days``: the ``unbilled_time`` monitor lists billable time no invoice bills
    once it is older than this."""

    require_approval: bool = False
    post: bool = True
    unbilled_after_days: int = Field(default=7, ge=0, le=3660)


def _proxy_address(value: str) -> str:
    """An IP address or network (CIDR), or "*" (every peer: only behind a proxy that is the sole
    way in)."""
    import ipaddress

    if value != "*":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(
                f"{value[:64]!r} is not an IP address, a network (CIDR) or '*'"
            ) from None
    return value


ProxyAddress = Annotated[str, AfterValidator(_proxy_address)]


class ApiConfig(Section):
    """The HTTP server of `handoff api` / `handoff run` and its defences against slow clients.

    ``limit_concurrency``: connections and requests served at once; past it new ones get 503 at
    once (uvicorn), so a few hundred slow clients cannot hold every socket. ``body_read_timeout``:
    seconds a webhook body may take to arrive in full (a byte a second never does: 408).
    ``keep_alive_timeout``: seconds an idle kept-alive connection stays open.
    ``max_connections_per_client``: connections (and requests in flight) one client address may
    hold at once; past it: 429 at once, so one client cannot take every slot from the others.
    ``forwarded_allow_ips``: the reverse proxies (IPs or CIDRs, uvicorn's `forwarded-allow-ips`)
    whose X-Forwarded-For names the client; empty (the default): the client is the socket peer
    and X-Forwarded-For is ignored."""

    limit_concurrency: int = Field(default=200, ge=1, le=100_000)
    body_read_timeout: float = Field(default=30.0, gt=0, le=3600)
    keep_alive_timeout: float = Field(default=5.0, gt=0, le=3600)
    max_connections_per_client: int = Field(default=16, ge=1, le=100_000)
    forwarded_allow_ips: list[ProxyAddress] = []


class LimitsConfig(Section):
    """Business limits every time entry and expense must meet at the edge (webhook, file import,
    generic route) before anything is stored; a value outside them is refused naming the field.

    Hours: above 0, at most ``max_hours_per_entry`` in one entry and ``max_hours_per_day`` for
    one consultant on one day across the entries delivered together, with at most
    ``hours_decimals`` decimals. Expenses: above 0, at most ``max_expense_amount`` (in the
    expense's own currency), with no more decimals than its currency has. Dates: not more than
    ``days_back`` days before today nor ``days_ahead`` days after it."""

    max_hours_per_entry: float = Field(default=24.0, gt=0, le=24)
    max_hours_per_day: float = Field(default=24.0, gt=0, le=24)
    hours_decimals: int = Field(default=2, ge=0, le=6)
    max_expense_amount: ExactDecimal = Field(default=Decimal(100_000), gt=0, le=1_000_000_000)
    days_back: int = Field(default=366, ge=0, le=36_500)
    days_ahead: int = Field(default=31, ge=0, le=36_500)


class RuntimeConfig(Section):
    """How the hub's own machinery runs. ``engine_log_level``: the durable engine's (DBOS)
    logger. ``monitors_seconds``: how often the business monitors run. ``alerts_seconds``: how
    often the alert conditions are checked (``alerts``). The invoice-status poll is
    ``flows.invoice_status.trigger.poll.interval_seconds``. The schedules fire on the clock: a
    period that divides neither a minute, an hour nor a day is rounded down to one that does."""

    engine_log_level: LogLevel = "WARNING"
    # Modules whose import registers more flows (a firm's own, the tests'): every process that
    # runs or starts flows imports them, so an API and its workers know the same flows.
    flow_modules: list[ModuleName] = []
    monitors_seconds: float = Field(default=60.0, gt=0, le=86_400)
    alerts_seconds: float = Field(default=60.0, gt=0, le=86_400)
    # Odoo stamps write_date with its transaction's start, and a transaction commits up to its
    # request time limit later (limit_time_real, 120 s by default): a change committed late sits
    # behind changes already read. Each invoice poll reads again this far behind its cursor; the
    # inbox drops the versions it has already seen.
    poll_lookback_seconds: float = Field(default=120.0, ge=0, le=3_600)


class TimeEntriesConfig(Section):
    """How time entries and expenses become durable runs (how many go in one run:
    ``flows.time_entry.batch``). ``partitions``: ordered partitions the entries are spread over (runs of one partition run one
    after the other, partitions side by side); one is the fastest on a real Odoo 18 (4,000
    entries, 20 projects: 297 rows/s with 1, 273 with 2: two batches touching the same sale lines
    make Odoo's creates wait on each other). Change it only with no entry in flight (an event
    keeps the partition it was stored with)."""

    partitions: int = Field(default=1, ge=1, le=256)


# Settings that were removed: naming one is an error saying why and what to do instead, never
# silently ignored. A path part "*" matches any key.
REMOVED_SETTINGS: tuple[tuple[tuple[str, ...], str], ...] = (
    *(
        (
            ("ownership", domain),
            "removed in issue 11: nothing read it; the flows fix which "
            "system writes what (deals come from the CRM, projects, time and invoices live in "
            "Odoo). Delete the line; only ownership.customer and ownership.field_groups "
            "(customer.<group>) are read",
        )
        for domain in (
            "contact",
            "deal",
            "contract",
            "project",
            "time",
            "expense",
            "invoice",
            "payment",
        )
    ),
    (
        ("flows", "*", "trigger", "webhook"),
        "removed in issue 11: nothing read it; a system with a "
        "webhook_secret posts to its own route whatever the flows say. Delete the trigger "
        "(a flow without one is started by its webhooks)",
    ),
    (
        ("systems", "*", "circuit_breaker", "half_open_max_calls"),
        "removed in issue 11: it could only be 1, and nothing read it; a half-open circuit "
        "always lets exactly one call probe (across every process) while the others wait. "
        "Delete the line",
    ),
    (
        ("delivery", "rate_card", "consultants"),
        "removed in issue 11: nothing read it; a line sold without a price is priced by the "
        "role of its service_catalog entry (role: ...), and time is invoiced at its order "
        "line's price. Delete the section",
    ),
    (
        ("systems", "*", "path"),
        "removed with kind 'files' in issue 11: no code watched a folder; import a "
        "file with `handoff import time FILE` / `handoff import expenses FILE`",
    ),
    *(
        (
            ("time_entries", key),
            "removed in issue 11: time entries are grouped into runs across deliveries by the "
            "engine, per flow: set flows.time_entry.batch: {size: N, linger_ms: MS} (or "
            "flows.time_entry.batch: false for one run per entry) and delete this line",
        )
        for key in ("batch", "batch_limit")
    ),
    (
        ("runtime", "inbox_sweep_seconds"),
        "removed in issue 11: an event and its run's enqueue commit in one transaction, so "
        "no event waits to be handed over and there is no sweeper; delete the line",
    ),
)
_REMOVED_KINDS = {
    "files": "kind 'files' was removed in issue 11: no code watched a folder; import a file "
    "with `handoff import time FILE` / `handoff import expenses FILE`",
}
_REMOVED_ALERT_KINDS = {
    "email": "kind 'email' was removed in issue 11: no code sent mail; use kind 'webhook' "
    "(a chat or mail gateway's URL) or 'log'",
}


def _removed_settings(data: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(location, message) of every removed setting `data` names; each is deleted from `data`
    so the rest is still validated and every problem is reported at once."""
    # A removed kind first: its system goes whole (its `path` is not reported again).
    systems = data.get("systems")
    if isinstance(systems, dict):
        for name, system in list(systems.items()):
            if isinstance(system, dict) and system.get("kind") in _REMOVED_KINDS:
                yield ("systems", name, "kind"), _REMOVED_KINDS[system["kind"]]
                del systems[name]  # still a known name: references to it raise nothing more
    for pattern, message in REMOVED_SETTINGS:
        yield from _take(data, pattern, (), message)
    flows = data.get("flows")
    for flow in flows.values() if isinstance(flows, dict) else ():
        if isinstance(flow, dict) and flow.get("trigger") == {}:
            del flow["trigger"]  # it held only a removed webhook trigger
    alerts = data.get("alerts")
    channels = alerts.get("channels") if isinstance(alerts, dict) else None
    if isinstance(channels, list):
        for index, channel in enumerate(channels):
            if isinstance(channel, dict) and channel.get("kind") in _REMOVED_ALERT_KINDS:
                yield ("alerts", "channels", index, "kind"), _REMOVED_ALERT_KINDS[channel["kind"]]
                channel.clear()
                channel["kind"] = "log"


def _take(
    node: Any, pattern: tuple[str, ...], at: tuple[Any, ...], message: str
) -> Iterator[tuple[tuple[Any, ...], str]]:
    if not isinstance(node, dict):
        return
    head, rest = pattern[0], pattern[1:]
    keys = list(node) if head == "*" else [head] if head in node else []
    for key in keys:
        if rest:
            yield from _take(node[key], rest, (*at, key), message)
        else:
            del node[key]
            yield (*at, key), message


class Settings(Section):
    """The whole of `handoff.yaml`. Build it with `load_settings()`."""

    version: Literal[1] = 1
    store: StoreConfig = StoreConfig()
    systems: dict[SystemKey, SystemConfig] = {}
    ownership: OwnershipConfig = OwnershipConfig()
    flows: dict[FlowKey, FlowConfig] = {}
    mappings: dict[str, MappingFile] = {}  # name -> file, resolved against the config folder
    retry: RetryPolicy = RetryPolicy()
    alerts: AlertsConfig = AlertsConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    billing: BillingConfig = BillingConfig()
    api: ApiConfig = ApiConfig()
    limits: LimitsConfig = LimitsConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    time_entries: TimeEntriesConfig = TimeEntriesConfig()

    _source: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _references_known_systems(self, info: ValidationInfo) -> Settings:
        # Loading a file checks each reference in place (precise paths, every problem);
        # this covers settings built in code, which have no such validation context.
        if "system_names" in _context(info):
            return self
        unknown = [
            f"{path}: unknown system '{name}'"
            for path, name in self.system_references()
            if name not in self.systems
        ]
        if unknown:
            raise ValueError("; ".join(unknown) + f" ({_describe_systems(self.systems)})")
        return self

    @model_validator(mode="after")
    def _triggers_that_run(self) -> Settings:
        # A trigger nothing runs would be a setting nobody reads: only the invoice run has a
        # cron, and a poll reads a CRM's deals or (invoice_status) Odoo's invoices.
        problems = []
        for name, flow in self.flows.items():
            trigger = flow.trigger
            if trigger is None:
                if not flow.enabled:
                    problems.append(
                        f"flows.{name}.enabled: false stops only a trigger (poll, cron) and this "
                        "flow has none; a flow started by webhooks stops when its system's "
                        "webhook_secret is removed"
                    )
                continue
            if trigger.cron is not None and name != "billing_run":
                problems.append(f"flows.{name}.trigger.cron: only flows.billing_run runs on a cron")
            poll = trigger.poll
            system = self.systems.get(poll.system) if poll is not None else None
            if poll is not None and system is not None:
                polled = "odoo" if name == "invoice_status" else ("hubspot", "salesforce")
                if system.kind not in polled:
                    what = "Odoo's invoices" if name == "invoice_status" else "a CRM's deals"
                    problems.append(
                        f"flows.{name}.trigger.poll.system: '{poll.system}' is a "
                        f"{system.kind} system; this poll reads {what}"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _sources_know_their_odoo(self) -> Settings:
        # Every source that starts Odoo flows resolves to exactly one Odoo system by name:
        # ``systems.<source>.odoo``, else the only Odoo system of the file.
        odoos = self.systems_of_kind("odoo")
        problems = []
        for name, system in self.systems.items():
            if system.odoo is not None:
                target = self.systems.get(system.odoo)
                if target is not None and target.kind != "odoo":
                    problems.append(
                        f"systems.{name}.odoo: '{system.odoo}' is a {target.kind} system, "
                        f"not an Odoo one ({_describe_kind(odoos, 'odoo')})"
                    )
            elif len(odoos) > 1 and _feeds_odoo(system):
                problems.append(
                    f"systems.{name}.odoo: required, this hub has {len(odoos)} Odoo systems "
                    f"({', '.join(odoos)}); name the one {name}'s events feed"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def systems_of_kind(self, kind: str) -> list[str]:
        """The names of the configured systems of ``kind``, in file order."""
        return [name for name, system in self.systems.items() if system.kind == kind]

    def odoo_for(self, source: str) -> str:
        """The name of the Odoo system the events of ``source`` feed: the source itself when it
        is an Odoo system, its ``systems.<source>.odoo``, else the only Odoo system. Sources that
        are no configured system (``billing``, a file import) take the only Odoo system."""
        own = self.systems.get(source)
        if own is not None and own.kind == "odoo":
            return source
        if own is not None and own.odoo is not None:
            return own.odoo
        return self.only_system_of_kind("odoo", needed_by=source)

    def only_system_of_kind(self, kind: str, *, needed_by: str | None = None) -> str:
        """The one configured system of ``kind``; UnknownSystemError when none or several."""
        names = self.systems_of_kind(kind)
        if len(names) == 1:
            return names[0]
        who = f" for '{needed_by}'" if needed_by else ""
        if not names:
            raise UnknownSystemError(
                f"no system of kind '{kind}' in the configuration{who}: add a "
                f"systems.<name> entry with kind: {kind}"
            )
        fix = f"set systems.{needed_by}.odoo" if needed_by in self.systems else "name one"
        raise UnknownSystemError(
            f"{len(names)} systems of kind '{kind}' ({', '.join(names)}){who}: "
            f"which one is ambiguous; {fix}"
        )

    def system_references(self) -> Iterator[tuple[str, str]]:
        """Every (dotted path, system name) that refers to an entry of `systems`."""
        for name, system in self.systems.items():
            if system.odoo is not None:
                yield f"systems.{name}.odoo", system.odoo
        if self.ownership.customer:
            yield "ownership.customer", self.ownership.customer
        for group, owner in self.ownership.field_groups.items():
            yield f"ownership.field_groups.{group}", owner
        for name, flow in self.flows.items():
            if flow.trigger is not None and flow.trigger.poll:
                yield f"flows.{name}.trigger.poll.system", flow.trigger.poll.system
            if flow.queue:
                yield f"flows.{name}.queue", flow.queue

    @property
    def source(self) -> Path | None:
        """The file these settings came from (None: the embedded defaults)."""
        return self._source

    def system(self, name: str) -> SystemConfig:
        try:
            return self.systems[name]
        except KeyError:
            raise UnknownSystemError(
                f"no system named '{name}' in the configuration ({_describe_systems(self.systems)})"
            ) from None

    def store_url(self) -> str:
        """Handoff's own database: `store.url`, else $HANDOFF_DATABASE_URL, else SQLite."""
        return self.store.url or os.environ.get(DATABASE_URL_ENV_VAR) or DEFAULT_STORE_URL

    def system_store_url(self) -> str:
        """The durable engine's database: the store's own (`store.system_url` may only repeat
        it). The inbox row and its run's enqueue commit in one transaction, so the engine's
        tables live in the store's database: its PostgreSQL (schema ``dbos``) or its SQLite file."""
        return self.store.system_url or self.store_url()


# ── Loading and problem reporting ────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration file: where (dotted path, line) and what."""

    path: str  # e.g. "systems.odoo.url"; "" for the document as a whole
    message: str
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based

    def format(self, source: Path | str | None = None) -> str:
        where = [str(source)] if source is not None else []
        if self.line is not None:
            where.append(str(self.line))
            if self.column is not None:
                where.append(str(self.column))
        prefix = ":".join(where)
        body = f"{self.path}: {self.message}" if self.path else self.message
        return f"{prefix}: {body}" if prefix else body


class ConfigError(Exception):
    """The configuration is unusable; `problems` lists every reason."""

    def __init__(self, problems: list[ConfigProblem], source: Path | None = None) -> None:
        self.problems = problems
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        name = self.source or "configuration"
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        lines = [problem.format(self.source) for problem in self.problems]
        return f"{name}: {count}\n" + "\n".join(f"  {line}" for line in lines)


def resolve_config_path(path: Path | None = None) -> Path | None:
    """The file to load: `path`, else $HANDOFF_CONFIG, else ./handoff.yaml if present."""
    if path is not None:
        return path
    if from_env := os.environ.get(CONFIG_ENV_VAR):
        return Path(from_env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(
    path: Path | None = None, *, startable_flows: Collection[str] | None = None
) -> Settings:
    """Load and validate the configuration; embedded defaults when there is no file.

    ``startable_flows``: the flows a source may start by name (``flows.routing``); given, every
    ``systems.<name>.allowed_flows`` entry is checked against them.
    Raises ConfigError listing every problem (a missing named file is one).
    """
    source = resolve_config_path(path)
    if source is None:
        return Settings()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        problem = ConfigProblem("", f"cannot read the configuration file: {error.strerror}")
        raise ConfigError([problem], source) from None
    return parse_settings(
        text, base_dir=source.resolve().parent, source=source, startable_flows=startable_flows
    )


def parse_settings(
    text: str,
    *,
    base_dir: Path | None = None,
    source: Path | None = None,
    startable_flows: Collection[str] | None = None,
) -> Settings:
    """Validate YAML text. Relative paths (mappings, file: secrets) resolve against base_dir."""
    root, data = _parse_yaml(text, source)
    problems = list(_duplicate_keys(root))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(ConfigProblem("", "the file must be a YAML mapping of sections", 1))
        raise ConfigError(problems, source)
    systems = data.get("systems")
    context = {
        "from_file": True,
        "base_dir": base_dir or Path.cwd(),
        "system_names": frozenset(map(str, systems)) if isinstance(systems, dict) else frozenset(),
    }
    if startable_flows is not None:
        context["startable_flows"] = frozenset(startable_flows)
    for loc, message in _removed_settings(data):
        mark = _locate(root, loc)
        problems.append(
            ConfigProblem(
                _dotted(loc),
                message,
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
            )
        )
    try:
        settings = Settings.model_validate(data, context=context)
    except ValidationError as error:
        problems.extend(
            _problem_from_error(detail, root) for detail in error.errors(include_input=False)
        )
    if problems:
        problems.sort(key=lambda problem: (problem.line or 0, problem.column or 0))
        raise ConfigError(problems, source)
    settings._source = source
    return settings


class _YamlFloat(float):
    """A YAML float that remembers how it was written, so money is read from the text
    (``0.1`` exactly) while every float setting still sees a float."""

    decimal: Decimal

    def __new__(cls, value: float, text: str) -> _YamlFloat:
        number = super().__new__(cls, value)
        try:
            number.decimal = Decimal(text.replace("_", ""))
        except InvalidOperation:  # .inf, .nan and YAML 1.1's sexagesimal 1:30.5
            number.decimal = Decimal(repr(value))
        return number


class _ExactLoader(yaml.SafeLoader):
    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        return _YamlFloat(super().construct_yaml_float(node), str(node.value))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _ExactLoader.construct_yaml_float)


def _parse_yaml(text: str, source: Path | None) -> tuple[yaml.Node | None, Any]:
    loader = _ExactLoader(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    except yaml.MarkedYAMLError as error:
        # Built from the parts, never str(error): PyYAML's message quotes the source line,
        # which may hold a secret.
        mark = error.problem_mark or error.context_mark
        what = " ".join(part for part in (error.context, error.problem) if part)
        problem = ConfigProblem(
            "",
            f"YAML syntax error: {what}",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        )
        raise ConfigError([problem], source) from None
    except yaml.YAMLError as error:
        raise ConfigError(
            [ConfigProblem("", f"YAML error: {type(error).__name__}")], source
        ) from None
    finally:
        loader.dispose()


def _duplicate_keys(node: yaml.Node | None, path: tuple[str, ...] = ()) -> Iterator[ConfigProblem]:
    """PyYAML keeps the last of two equal keys silently; a duplicate is almost always a mistake."""
    if isinstance(node, yaml.MappingNode):
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in first_lines:
                yield ConfigProblem(
                    _dotted((*path, key)),
                    f"duplicate key (first defined on line {first_lines[key]})",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            first_lines.setdefault(key, key_node.start_mark.line + 1)
            yield from _duplicate_keys(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, f"[{index}]"))


def _problem_from_error(detail: Any, root: yaml.Node | None) -> ConfigProblem:
    loc = tuple(detail["loc"])
    is_key_error = bool(loc) and loc[-1] == "[key]"
    if is_key_error:
        loc = loc[:-1]
    message = _friendly_message(detail, loc)
    if is_key_error:
        message = f"invalid name: {message}"
    mark = _locate(root, loc)
    return ConfigProblem(
        _dotted(loc), message, mark.line + 1 if mark else None, mark.column + 1 if mark else None
    )


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and part.startswith("[")):
            text += f"[{part}]" if isinstance(part, int) else part
        else:
            text += f".{part}" if text else str(part)
    return text


def _friendly_message(detail: Any, loc: tuple[Any, ...]) -> str:
    kind, ctx, message = detail["type"], detail.get("ctx") or {}, detail["msg"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        if close:
            return f"unknown key (did you mean '{close[0]}'?)"
        return f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
    if kind.startswith("url_"):
        reason = ctx.get("error") or message
        if kind == "url_scheme":
            reason = f"scheme must be {ctx.get('expected_schemes', 'http or https')}"
        return f"invalid URL: {reason}"
    comparisons = {
        "greater_than_equal": ">=",
        "greater_than": ">",
        "less_than_equal": "<=",
        "less_than": "<",
    }
    if kind in comparisons:
        bound = next(iter(ctx.values()), "")
        return f"must be {comparisons[kind]} {bound}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        return f"must be {expected}" if " or " not in expected else f"must be one of {expected}"
    if kind == "string_pattern_mismatch":
        return "must start with a letter and contain only letters, digits, _ and -"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    return message.replace("Input should be", "must be")


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a mapping at `loc` accepts, found by walking the model types."""
    annotation: Any = Settings
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        elif typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _locate(node: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Mark | None:
    """The YAML position of `loc`: the deepest key (or list item) of it present in the file."""
    mark = node.start_mark if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if entry is None:
                break
            mark, node = entry[0].start_mark, entry[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return mark


# ── Starter file ─────────────────────────────────────────────────────────────────────────


def starter_config_text() -> str:
    """The commented `handoff.yaml` written by `handoff init`."""
    return resources.files("handoff").joinpath("templates/handoff.yaml").read_text(encoding="utf-8")


def secret_references(settings: Settings) -> Iterator[tuple[str, SecretRef]]:
    """Every (dotted path, reference) in the settings, e.g. to report which are missing."""
    for name, system in settings.systems.items():
        for key, ref in system.credentials.items():
            yield f"systems.{name}.credentials.{key}", ref
        if system.webhook_secret is not None:
            yield f"systems.{name}.webhook_secret", system.webhook_secret
    for index, channel in enumerate(settings.alerts.channels):
        if channel.target is not None and _is_secret_reference(channel.target):
            yield f"alerts.channels[{index}].target", SecretRef(channel.target)


def _public_view(value: Any) -> Any:
    """Plain data for display: secret references shown with their status, never a value."""
    if isinstance(value, SecretRef):
        return f"{value.reference} ({value.status()})"
    if isinstance(value, BaseModel):
        return {name: _public_view(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(key): _public_view(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_public_view(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def effective_config(settings: Settings) -> dict[str, Any]:
    """The effective configuration (defaults filled in) as plain data safe to print: secrets
    as `${NAME} (set)` / `(missing)`, database URLs with any password masked."""
    view = _public_view(settings)
    for flow in view["flows"].values():  # show only the trigger that is set
        if flow["trigger"] is not None:
            flow["trigger"] = {
                kind: how for kind, how in flow["trigger"].items() if how is not None
            }
    view["store"] = {
        "url": make_url(settings.store_url()).render_as_string(hide_password=True),
        "system_url": make_url(settings.system_store_url()).render_as_string(hide_password=True),
    }
    for index, channel in enumerate(settings.alerts.channels):
        if channel.target is not None and _is_secret_reference(channel.target):
            target = SecretRef(channel.target)
            view["alerts"]["channels"][index]["target"] = f"{target.reference} ({target.status()})"
    return view
