from __future__ import annotations

import pytest

from delivery.builders import delivery_config, hand_reference
from handoff.config import DeliveryConfig
from handoff.delivery.reference import OdooReference


@pytest.fixture
def config() -> DeliveryConfig:
    return delivery_config()


@pytest.fixture
def reference() -> OdooReference:
    return hand_reference()
