"""redact() runs in time linear in its input: the URL-password pattern was quadratic on a long
word (80,000 letters took 7 s, a 5 MB description minutes, holding the interpreter lock)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from handoff.config import REDACTED, redact

HOSTILE = {
    "a long word": "'a' * 5_000_000",
    "a scheme then a long word": "'x://' + 'b' * 5_000_000",
    "many user: parts": "'x://a:' * 1_000_000",
    "many schemes": "('ab://' + 'c' * 50) * 100_000",
    "a long password without @": "'https://u:' + 'p' * 5_000_000",
}


@pytest.mark.parametrize("expression", HOSTILE.values(), ids=HOSTILE.keys())
def test_redact_of_5_mb_of_hostile_text_finishes_in_seconds(expression: str) -> None:
    # In a child process: the quadratic regex held the interpreter lock, so only a process
    # boundary can bound the wait. Generous: linear work on 5 MB takes well under a second.
    code = f"from handoff.config import redact; redact({expression})"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=20)


def test_passwords_in_urls_are_still_masked_and_nothing_else() -> None:
    text = "postgresql://u:p@h/db and https://x:y:z@h2 x://:q@h plain://nopass@h ://a:b@c 9://a:b@c"
    assert redact(text) == (
        f"postgresql://u:{REDACTED}@h/db and https://x:{REDACTED}@h2 x://:{REDACTED}@h "
        "plain://nopass@h ://a:b@c 9://a:b@c"
    )
    assert redact({"dsn": "redis://:s3cret@cache:6379/0", "password": "x"}) == {
        "dsn": f"redis://:{REDACTED}@cache:6379/0",
        "password": REDACTED,
    }


def test_a_hostile_tax_id_is_normalised_in_linear_time() -> None:
    # Tax ids come from the CRM: "(MWST|TVA|IVA|MVA)+$" was quadratic on a run of suffixes.
    code = (
        "from handoff.customers.normalize import normalize_tax_id; "
        "assert normalize_tax_id('1' + 'MWST' * 1_000_000 + 'X') is None; "
        "assert normalize_tax_id('CHE-123.456.789 MWST').number == '123456789'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=20)
