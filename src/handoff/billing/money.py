"""Money arithmetic the engine shares: minor units, half-up rounding, currency conversion.

Amounts stay unrounded while they are added up; an invoice line is rounded once, half-up, to its
currency's minor unit, and a total is the sum of rounded lines (Odoo's ``price_subtotal`` and
``amount_untaxed`` work the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# ISO 4217 exponents other than 2 (the default). Zero-decimal and three-decimal currencies in use.
_MINOR_UNITS: Mapping[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


def minor_unit(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (JPY 0, EUR 2, KWD 3)."""
    return _MINOR_UNITS.get(currency, 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half-up (away from zero on a tie) to ``currency``'s minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


class FxRates(BaseModel):
    """Exchange rates the Odoo way: units of each currency per 1 unit of ``base``.

    ``FxRates(base="USD", rates={"EUR": Decimal("0.9")})`` reads "1 USD = 0.9 EUR".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str = Field(pattern=r"^[A-Z]{3}$")
    rates: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _positive(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, rate in rates.items():
            if rate <= 0:
                raise ValueError(f"rate for {currency} must be positive, got {rate}")
        return rates

    def _per_base(self, currency: str) -> Decimal | None:
        if currency == self.base:
            return Decimal(1)
        return self.rates.get(currency)

    def factor(self, source: str, target: str) -> Decimal | None:
        """Multiply an amount in ``source`` by this to get ``target``; None when a rate is missing."""
        if source == target:
            return Decimal(1)
        source_rate, target_rate = self._per_base(source), self._per_base(target)
        if source_rate is None or target_rate is None:
            return None
        return target_rate / source_rate


NO_RATES = FxRates(base="XXX")
