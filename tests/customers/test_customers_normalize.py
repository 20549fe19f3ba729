"""Every normalisation rule, as a table of real-looking cases."""

from __future__ import annotations

import pytest

from handoff.customers.normalize import (
    TaxId,
    company_domain,
    company_name_keys,
    different_tax_ids,
    email_domain,
    is_free_mail_domain,
    normalize_company_name,
    normalize_domain,
    normalize_registry_number,
    normalize_tax_id,
    same_company_name,
    same_tax_id,
)

# ── names ────────────────────────────────────────────────────────────────────────────────────

SAME_COMPANY = [
    # case, punctuation, US suffixes
    ("Acme, Inc.", "ACME Incorporated"),
    ("ACME Incorporated", "acme inc"),
    ("Acme Inc", "Acme LLC"),
    ("Acme L.L.C.", "acme"),
    ("Globex Corporation", "GLOBEX corp."),
    ("Initech Co.", "Initech Company"),
    ("Umbrella Ltd", "Umbrella Limited"),
    ("Umbrella PLC", "umbrella"),
    # whitespace
    ("  Stark   Industries  ", "Stark Industries"),
    # & vs and, leading The
    ("Johnson & Johnson", "Johnson and Johnson"),
    ("The Coca-Cola Company", "Coca Cola"),
    ("Smith & Co.", "Smith"),
    # accents and other Latin letters
    ("Société Générale S.A.", "Societe Generale SA"),
    ("Nestlé S.A.", "NESTLE"),
    ("Ørsted A/S", "Orsted AS"),
    ("Straße AG", "Strasse"),
    ("Łódź Sp. z o.o.", "Lodz"),
    # German-speaking
    ("Siemens AG", "siemens"),
    ("Bosch GmbH", "BOSCH G.m.b.H."),  # dots join: gmbh
    ("Acme GmbH & Co. KG", "Acme KG"),
    ("Beispiel UG (haftungsbeschränkt)", "Beispiel"),
    # French, Benelux, Nordic, Southern and Eastern Europe, Asia-Pacific, Latin America
    ("Dupont SAS", "Dupont SARL"),
    ("Philips N.V.", "Philips BV"),
    ("Heineken B.V.", "heineken"),
    ("AB Volvo (publ)", "Volvo AB"),
    ("Nokia Oyj", "Nokia"),
    ("Equinor ASA", "Equinor"),
    ("Maersk ApS", "MAERSK"),
    ("Fiat S.p.A.", "Fiat SpA"),
    ("Barilla S.r.l.", "Barilla SRL"),
    ("Skoda s.r.o.", "Skoda"),
    ("Qantas Pty. Ltd.", "Qantas Pty Ltd"),
    ("Grab Pte. Ltd.", "Grab"),
    ("Grupo Bimbo, S.A.B. de C.V.", "Grupo Bimbo"),
    ("O'Reilly Media, Inc.", "OReilly Media"),
    ("O\u2019Reilly Media", "O'Reilly Media"),  # typographic apostrophe
    # German umlaut: both transliterations of the umlaut spelling
    ("Müller GmbH", "Mueller GmbH"),
    ("Müller GmbH", "Muller GmbH"),
]

DIFFERENT_COMPANIES = [
    ("Acme Inc", "Acme Holdings Inc"),  # holdings / group are part of the name, not a legal form
    ("Acme", "Acme Group"),
    ("Mueller GmbH", "Muller GmbH"),  # no umlaut on either side: nothing says they are one word
    ("Coca-Cola", "CocaCola Bottling"),
    ("Initech", "Initrode"),
]


@pytest.mark.parametrize(("left", "right"), SAME_COMPANY)
def test_names_of_the_same_company_match(left: str, right: str) -> None:
    assert same_company_name(left, right), (company_name_keys(left), company_name_keys(right))
    assert same_company_name(right, left)


@pytest.mark.parametrize(("left", "right"), DIFFERENT_COMPANIES)
def test_names_of_different_companies_do_not_match(left: str, right: str) -> None:
    assert not same_company_name(left, right)


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("Acme, Inc.", "acme"),
        ("The Globex Corporation", "globex"),
        ("Johnson & Johnson", "johnson and johnson"),
        ("Müller GmbH", "muller"),
        ("Acme GmbH & Co. KG", "acme"),
        ("Foo Sp. z o.o.", "foo"),
        ("Baz A/S", "baz"),
        ("Hello\u00a0World\tLtd", "hello world"),  # non-breaking space, tab
        # a name made only of legal words or articles stays what it is
        ("Co.", "co"),
        ("The", "the"),
        ("Inc. Inc.", "inc"),
        ("", ""),
        ("...", ""),
        # other scripts are kept, in their own letters
        ("株式会社 Sony", "株式会社 sony"),
        ("Яндекс \u041e\u041e\u041e", "яндекс"),  # Cyrillic OOO
    ],
)
def test_normalised_core(name: str, core: str) -> None:
    assert normalize_company_name(name) == core


def test_umlaut_name_has_both_german_and_plain_spelling() -> None:
    assert company_name_keys("Müller & Söhne GmbH") == {"muller and sohne", "mueller and soehne"}
    assert company_name_keys("Mueller GmbH") == {"mueller"}
    assert company_name_keys(None) == frozenset()


# ── domains ──────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("acme.com", "acme.com"),
        ("ACME.COM", "acme.com"),
        ("https://www.acme.com", "acme.com"),
        ("HTTPS://WWW.Acme.COM:443/about?x=1#team", "acme.com"),
        ("http://acme.com/", "acme.com"),
        ("www2.acme.co.uk.", "acme.co.uk"),
        ("//www.acme.com", "acme.com"),
        ("https://user:pw@acme.com/login", "acme.com"),
        ("jane.doe@Acme.com", "acme.com"),
        ("mailto:jane@acme.com", "acme.com"),
        ("<jane@acme.com>", "acme.com"),
        ("eu.acme.com", "eu.acme.com"),  # subdomains are kept: no public-suffix guessing
        ("münchen.de", "xn--mnchen-3ya.de"),  # IDNA
        ("http://www.MÜNCHEN.de/impressum", "xn--mnchen-3ya.de"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("acme_corp.com", "acme_corp.com"),  # legacy host, plain ASCII: kept
        ("", None),
        (None, None),
        ("n/a", None),
        ("localhost", None),
        ("127.0.0.1", None),
        ("http://[::1]:8080/", None),
        ("not a domain", None),
    ],
)
def test_normalize_domain(value: str | None, domain: str | None) -> None:
    assert normalize_domain(value) == domain


@pytest.mark.parametrize(
    "value",
    [
        "jane@gmail.com",
        "https://gmail.com",
        "x@GoogleMail.com",
        "x@outlook.com",
        "x@hotmail.co.uk",
        "x@yahoo.fr",
        "x@icloud.com",
        "x@proton.me",
        "x@gmx.de",
        "x@web.de",
        "x@orange.fr",
    ],
)
def test_free_mail_never_counts_as_a_company_domain(value: str) -> None:
    assert normalize_domain(value) is not None
    assert is_free_mail_domain(value)
    assert company_domain(value) is None


def test_email_domain() -> None:
    assert email_domain("Jane@Globex.COM ") == "globex.com"
    assert email_domain("not-an-email") is None
    assert email_domain(None) is None
    assert company_domain("sales@globex.com") == "globex.com"


# ── tax and registry numbers ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("DE123456789", None, "DE123456789"),
        ("DE 123 456 789", None, "DE123456789"),
        ("de-123.456.789", None, "DE123456789"),
        ("123 456 789", "DE", "DE123456789"),  # bare number, country known
        ("123456789", "de", "DE123456789"),
        ("GR 123456789", None, "EL123456789"),  # Greece's VAT prefix is EL
        ("123456789", "GR", "EL123456789"),
        ("EL123456789", None, "EL123456789"),
        ("CHE-123.456.789 MWST", None, "CHE123456789"),  # Swiss UID with its VAT suffix
        ("123.456.789", "CH", "CHE123456789"),
        ("NO 923 609 016 MVA", None, "NO923609016"),
        ("FR AB 123456789", None, "FRAB123456789"),  # French key may be letters
        ("ESX1234567X", None, "ESX1234567X"),
        ("X1234567X", "ES", "ESX1234567X"),
        ("NL123456789B01", None, "NL123456789B01"),
        ("GB 123 4567 89", None, "GB123456789"),
        ("12-3456789", None, "123456789"),  # US EIN, country unknown: stays bare
    ],
)
def test_normalize_tax_id(value: str, country: str | None, expected: str) -> None:
    tax_id = normalize_tax_id(value, country)
    assert tax_id is not None and str(tax_id) == expected


@pytest.mark.parametrize("value", ["", None, "n/a", "none", "---", "VAT"])
def test_no_tax_number_in_it(value: str | None) -> None:
    assert normalize_tax_id(value, "DE") is None


def test_bare_number_matches_prefixed_only_when_the_country_is_known() -> None:
    prefixed = normalize_tax_id("DE 123 456 789")
    assert same_tax_id(normalize_tax_id("123456789", "DE"), prefixed)
    assert not same_tax_id(normalize_tax_id("123456789"), prefixed)  # unknown country: no proof
    assert not different_tax_ids(normalize_tax_id("123456789"), prefixed)  # ... nor disproof
    assert not same_tax_id(normalize_tax_id("123456789", "AT"), prefixed)
    assert different_tax_ids(normalize_tax_id("123456789", "AT"), prefixed)
    assert different_tax_ids(normalize_tax_id("DE999999999"), prefixed)
    assert not same_tax_id(None, prefixed) and not different_tax_ids(None, prefixed)
    assert TaxId(prefix=None, number="1") != TaxId(prefix="DE", number="1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("HRB 123 45", "HRB12345"),
        ("hrb-12345", "HRB12345"),
        ("SIREN 552.100.554", "SIREN552100554"),
        ("0123.456.789", "0123456789"),
        ("", None),
        ("n/a", None),
        ("none", None),
    ],
)
def test_normalize_registry_number(value: str, expected: str | None) -> None:
    assert normalize_registry_number(value) == expected
