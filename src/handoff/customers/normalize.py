"""Pure normalisation of the identifiers a company is recognised by: name, domain, tax id.

Every function here is total (any text in, a value or ``None`` out, never an exception) and
idempotent, so keys can be stored, compared and recomputed freely.

Company names
    ``normalize_company_name`` folds case (``casefold``), accents (Unicode NFKD with the combining
    marks dropped, plus ß/æ/œ/ø/ł/đ/þ spelled out), punctuation (dots and apostrophes join,
    ``A/S`` joins, everything else separates), ``&`` to ``and``, a leading ``The`` and legal forms
    (a table of jurisdictions below, stripped from the end repeatedly; a few Nordic/French forms
    also from the front). A name made only of those words is kept as it is rather than emptied.

    Umlauts: German spells ``ü`` as ``ue`` when the letter is missing, everybody else just drops
    the dots. ``company_name_keys`` therefore gives *both* spellings for a name that has an umlaut:
    "Müller GmbH" matches "Mueller GmbH" and "Muller GmbH", while "Mueller" and "Muller" (no umlaut
    on either side, so no evidence they are the same word) do not match each other.

Domains
    ``normalize_domain`` takes a website, a bare host or an e-mail address and returns the host in
    lower-case ASCII (IDNA 2008 / UTS 46 punycode), without scheme, credentials, ``www.``, port,
    path, query or trailing dot. ``company_domain`` additionally refuses free-mail providers:
    ``someone@gmail.com`` says nothing about which company someone works for.
    Subdomains are kept (``eu.acme.com`` != ``acme.com``): without the public-suffix list the
    registrable part cannot be found reliably, and a false merge is worse than a missed one.

Tax ids
    ``normalize_tax_id`` compacts a VAT number (spaces, dots, dashes, slashes; Swiss/Norwegian
    ``MWST``/``TVA``/``IVA``/``MVA`` suffixes) and splits the country prefix off. A bare number gets
    the prefix of the customer's country when it is known ("123 456 789" in DE == "DE123456789"),
    Greece uses ``EL`` and Switzerland ``CHE``. ``same_tax_id``/``different_tax_ids`` compare two.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import idna
from pydantic import BaseModel, ConfigDict

# ── company names ────────────────────────────────────────────────────────────────────────────

# Letters NFKD does not decompose but that people type without their accent.
_SPELLED_OUT = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "ss",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "\u0131": "i",
    }
)
_GERMAN_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
_UMLAUT = re.compile("[äöüÄÖÜ]")

_JOINERS = re.compile("[.'`\u2019]")  # "S.A." -> "sa", "O'Reilly" -> "oreilly"
_SLASHED_FORM = re.compile(r"\b(\w)\s*/\s*(\w)\b")  # "A/S", "I/S" -> "as", "is"
_SEPARATORS = re.compile(r"[^\w]+|_+")

# Legal forms, as token sequences after normalisation (so "S.p.A." is ("spa",), "Sp. z o.o." is
# ("sp", "z", "oo") and "Pty. Ltd." is ("pty", "ltd")). Stripped from the end, repeatedly.
LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(
    tuple(form.split())
    for form in (
        # English-speaking
        "inc",
        "incorporated",
        "llc",
        "lllp",
        "llp",
        "lp",
        "ltd",
        "limited",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "and co",
        "pty",
        "pty ltd",
        "pte",
        "pte ltd",
        "pvt",
        "pvt ltd",
        "private limited",
        "cic",
        "dac",
        "ulc",
        # German-speaking
        "gmbh",
        "mbh",
        "ag",
        "kg",
        "kgaa",
        "ohg",
        "ug",
        "haftungsbeschrankt",
        "gbr",
        "ev",
        "se",
        "gmbh and co kg",
        "ag and co kg",
        # French, Belgian, Swiss, Luxembourg
        "sa",
        "sas",
        "sasu",
        "sarl",
        "eurl",
        "sca",
        "scs",
        "snc",
        "sci",
        "scop",
        "sprl",
        "srl",
        # Dutch, Belgian
        "bv",
        "nv",
        "vof",
        "cv",
        "bvba",
        # Nordic
        "ab",
        "publ",
        "oy",
        "oyj",
        "as",
        "asa",
        "aps",
        "hf",
        "ehf",
        "ans",
        "is",
        # Southern Europe, Latin America
        "spa",
        "srls",
        "snc",
        "sapa",
        "sl",
        "slu",
        "sll",
        "lda",
        "ltda",
        "sa de cv",
        "de cv",
        "sab de cv",
        "sapi de cv",
        "eireli",
        # Central and Eastern Europe
        "sp z oo",
        "spzoo",
        "sp j",
        "sp k",
        "sro",
        "spol sro",
        "as",
        "kft",
        "zrt",
        "nyrt",
        "bt",
        "doo",
        "dd",
        "ad",
        "ead",
        "ood",
        "eood",
        "ou",
        "uab",
        "sia",
        "ooo",
        "zao",
        "pao",
        "oao",
        "\u043e\u043e\u043e",
        "\u0437\u0430\u043e",
        "\u043f\u0430\u043e",  # Cyrillic OOO, ZAO, PAO
        # Asia-Pacific
        "kk",
        "gk",
        "yk",
        "bhd",
        "sdn bhd",
        "tbk",
        "pt",
        "jsc",
    )
)
_SUFFIXES_LONGEST_FIRST = tuple(sorted(set(LEGAL_SUFFIXES), key=len, reverse=True))
# Forms that also come first in real names ("AB Volvo", "Oy Hartwall", "SARL Dupont").
LEGAL_PREFIXES: frozenset[str] = frozenset({"ab", "oy", "oyj", "sarl", "sas", "eurl", "pt"})
_ARTICLES: frozenset[str] = frozenset({"the"})


def _fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPELLED_OUT))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped).casefold()


def _name_tokens(text: str) -> list[str]:
    text = _fold_accents(text).replace("&", " and ").replace("+", " and ")
    text = _SLASHED_FORM.sub(r"\1\2", text)
    text = _JOINERS.sub("", text)
    return [token for token in _SEPARATORS.split(text) if token]


def _strip_legal_words(tokens: list[str]) -> list[str]:
    """Drop articles and legal forms until nothing more can go; never down to nothing."""
    changed = True
    while changed:
        changed = False
        if len(tokens) > 1 and (tokens[0] in _ARTICLES or tokens[0] in LEGAL_PREFIXES):
            tokens = tokens[1:]
            changed = True
            continue
        for suffix in _SUFFIXES_LONGEST_FIRST:
            if len(tokens) > len(suffix) and tuple(tokens[-len(suffix) :]) == suffix:
                tokens = tokens[: -len(suffix)]
                changed = True
                break
        # "Smith and Sons and" cannot happen, but "Acme &" (a dangling joiner) can.
        if len(tokens) > 1 and tokens[-1] == "and":
            tokens = tokens[:-1]
            changed = True
    return tokens


def _normalize_name_once(name: str) -> str:
    return " ".join(_strip_legal_words(_name_tokens(name)))


def normalize_company_name(name: str | None) -> str:
    """The comparable core of a company name: "Acme, Inc." -> "acme", "The Globex Corp." -> "globex".

    Empty (or punctuation-only) input gives "".
    """
    if not name:
        return ""
    result = _normalize_name_once(name)
    # Folding can expose a new legal word ("Acme Co.Inc" -> "acme coinc" is one word, but
    # "Acme & Co" -> "acme and co" -> "acme"); iterate to the fixed point so the result is stable.
    for _ in range(5):
        again = _normalize_name_once(result)
        if again == result:
            break
        result = again
    return result


def company_name_keys(name: str | None) -> frozenset[str]:
    """Every normalised spelling a name stands for (two when it has a German umlaut)."""
    if not name:
        return frozenset()
    keys = {normalize_company_name(name)}
    if _UMLAUT.search(name):
        keys.add(normalize_company_name(name.translate(_GERMAN_UMLAUTS)))
    return frozenset(key for key in keys if key)


def same_company_name(left: str | None, right: str | None) -> bool:
    return bool(company_name_keys(left) & company_name_keys(right))


# ── domains ──────────────────────────────────────────────────────────────────────────────────

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "outlook.de",
        "outlook.fr",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "live.com",
        "live.co.uk",
        "live.fr",
        "live.de",
        "live.nl",
        "msn.com",
        "windowslive.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.it",
        "yahoo.es",
        "yahoo.ca",
        "yahoo.com.au",
        "yahoo.co.jp",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "aim.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        "tutanota.com",
        "tutanota.de",
        "tuta.io",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "gmx.at",
        "gmx.ch",
        "web.de",
        "t-online.de",
        "freenet.de",
        "posteo.de",
        "mailbox.org",
        "mail.com",
        "email.com",
        "fastmail.com",
        "fastmail.fm",
        "hey.com",
        "zoho.com",
        "zohomail.com",
        "yandex.ru",
        "yandex.com",
        "ya.ru",
        "mail.ru",
        "bk.ru",
        "inbox.ru",
        "list.ru",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "neuf.fr",
        "libero.it",
        "virgilio.it",
        "tiscali.it",
        "alice.it",
        "seznam.cz",
        "centrum.cz",
        "wp.pl",
        "o2.pl",
        "interia.pl",
        "onet.pl",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "cox.net",
        "charter.net",
        "earthlink.net",
        "shaw.ca",
        "rogers.com",
        "sympatico.ca",
        "bigpond.com",
        "optusnet.com.au",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "rediffmail.com",
        "uol.com.br",
        "bol.com.br",
        "terra.com.br",
        "telenet.be",
        "skynet.be",
        "ziggo.nl",
        "kpnmail.nl",
        "home.nl",
        "bluewin.ch",
    }
)

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_WWW = re.compile(r"^www\d*\.")
_ASCII_HOST = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$")
_PLACEHOLDERS = frozenset({"", "-", "n/a", "na", "none", "null", "unknown", "tbd"})


def normalize_domain(value: str | None) -> str | None:
    """Host of a website, URL, bare domain or e-mail address, in comparable form; else None.

    "HTTPS://WWW.Acme.COM:443/about" -> "acme.com", "jane@Acme.com" -> "acme.com",
    "münchen.de" -> "xn--mnchen-3ya.de".
    """
    if not value:
        return None
    text = unicodedata.normalize("NFKC", value).strip().strip("<>").strip()
    if text.lower() in _PLACEHOLDERS:
        return None
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    text = _SCHEME.sub("", text).removeprefix("//")  # scheme-relative "//www.acme.com"
    text = re.split(r"[/?#\s]", text, maxsplit=1)[0]  # path, query, fragment
    text = text.rsplit("@", 1)[-1]  # e-mail address or credentials in a URL
    if text.startswith("[") or text.count(":") > 1:  # an IPv6 literal is no company domain
        return None
    text = text.split(":", 1)[0].strip(".").casefold()
    text = _WWW.sub("", text)
    if not text or "." not in text:
        return None
    try:
        host = idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        host = text  # underscores and other legacy hosts: keep them if they are plain ASCII
    host = _WWW.sub("", host.lower())
    if not _ASCII_HOST.match(host) or host.replace(".", "").isdigit():  # not a name, or an IPv4
        return None
    return host


def email_domain(email: str | None) -> str | None:
    """The normalised domain of an e-mail address, None when it is not one."""
    if not email or "@" not in email:
        return None
    return normalize_domain(email.strip().rsplit("@", 1)[1])


def is_free_mail_domain(domain: str | None) -> bool:
    return normalize_domain(domain) in FREE_MAIL_DOMAINS if domain else False


def company_domain(value: str | None) -> str | None:
    """The domain a value points at when it can identify a company (never a free-mail provider)."""
    host = normalize_domain(value)
    if host is None or host in FREE_MAIL_DOMAINS:
        return None
    return host


def company_domains(values: Iterable[str | None]) -> frozenset[str]:
    return frozenset(host for value in values if (host := company_domain(value)))


# ── tax and registry numbers ─────────────────────────────────────────────────────────────────

# Where the VAT prefix is not the ISO 3166 country code.
VAT_PREFIX_OF_COUNTRY: dict[str, str] = {"GR": "EL", "CH": "CHE", "LI": "CHE"}
# Prefixes recognised at the start of a number (letters that could also start a bare number in a
# country without prefixes are not here, so they are never mistaken for one).
KNOWN_VAT_PREFIXES: frozenset[str] = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "EL",
        "GR",
        "ES",
        "FI",
        "FR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "XI",
        "GB",
        "NO",
        "CHE",
        "IS",
        "AU",
        "NZ",
        "ZA",
        "IN",
        "SG",
        "MX",
        "BR",
        "AR",
        "CL",
        "CO",
        "PE",
        "TR",
        "RS",
        "UA",
        "RU",
        "US",
        "CA",
        "JP",
    }
)
_TAX_NOISE = re.compile(r"[\s.\-/_,:;]+")
# At most three suffixes: an unbounded "(...)+$" retries from every position (quadratic on a
# long run of them: 80,000 characters took 20 s holding the interpreter lock).
_TAX_SUFFIX = re.compile(r"(?:MWST|TVA|IVA|MVA){1,3}$")
MAX_TAX_ID_LENGTH = 64  # the longest VAT numbers are ~15 characters
_TAX_PREFIX = re.compile(r"^(CHE|[A-Z]{2})(?=[0-9A-Z]*[0-9])")


class TaxId(BaseModel):
    """A compact tax number and its country prefix (None: a bare number of unknown country)."""

    model_config = ConfigDict(frozen=True)

    prefix: str | None
    number: str

    def __str__(self) -> str:
        return f"{self.prefix or ''}{self.number}"


def vat_prefix(country_code: str | None) -> str | None:
    if not country_code or len(country_code.strip()) != 2:
        return None
    code = country_code.strip().upper()
    return VAT_PREFIX_OF_COUNTRY.get(code, code)


def normalize_tax_id(value: str | None, country_code: str | None = None) -> TaxId | None:
    """A VAT / tax number in comparable form; None when there is no number in it.

    "DE 123 456 789" -> DE123456789; ("123.456.789", "DE") -> DE123456789;
    "CHE-123.456.789 MWST" -> CHE123456789; "GR 123456789" -> EL123456789.
    """
    if not value:
        return None
    text = _compact(value)
    if text.casefold() in _PLACEHOLDERS or not any(ch.isdigit() for ch in text):
        return None
    if len(text) > MAX_TAX_ID_LENGTH:  # not a tax number; and the suffix pattern stays linear
        return None
    text = _TAX_SUFFIX.sub("", text)
    prefix: str | None = None
    if (found := _TAX_PREFIX.match(text)) and found.group(1) in KNOWN_VAT_PREFIXES:
        prefix = found.group(1)
        text = text[len(prefix) :]
    if prefix == "GR":
        prefix = "EL"
    if not text or not (text.isascii() and text.isalnum()):
        return None
    return TaxId(prefix=prefix or vat_prefix(country_code), number=text)


def same_tax_id(left: TaxId | None, right: TaxId | None) -> bool:
    """Both known, same number, same country (a bare number of unknown country proves nothing)."""
    return (
        left is not None
        and right is not None
        and left.number == right.number
        and left.prefix is not None
        and left.prefix == right.prefix
    )


def different_tax_ids(left: TaxId | None, right: TaxId | None) -> bool:
    """Both known and certainly not the same number: the records are different legal entities."""
    if left is None or right is None:
        return False
    if left.prefix and right.prefix:
        return (left.prefix, left.number) != (right.prefix, right.number)
    return left.number != right.number


def _compact(value: str) -> str:
    """Upper-case, compatibility-normalised, separators removed — to a fixed point: removing a
    separator can join a letter to a combining mark that NFKC then composes ("A ̄" -> "Ā")."""
    text = value
    for _ in range(4):
        compacted = _TAX_NOISE.sub("", unicodedata.normalize("NFKC", text).upper())
        if compacted == text:
            break
        text = compacted
    return text


def normalize_registry_number(value: str | None) -> str | None:
    """A company registry number compacted for comparison: "HRB 123 45" -> "HRB12345"."""
    if not value:
        return None
    text = _compact(value)
    if text.casefold() in _PLACEHOLDERS or not any(ch.isdigit() for ch in text):
        return None
    return text


__all__ = [
    "FREE_MAIL_DOMAINS",
    "LEGAL_PREFIXES",
    "LEGAL_SUFFIXES",
    "TaxId",
    "company_domain",
    "company_domains",
    "company_name_keys",
    "different_tax_ids",
    "email_domain",
    "is_free_mail_domain",
    "normalize_company_name",
    "normalize_domain",
    "normalize_registry_number",
    "normalize_tax_id",
    "same_company_name",
    "same_tax_id",
    "vat_prefix",
]
