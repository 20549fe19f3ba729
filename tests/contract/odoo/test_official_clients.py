"""The official `odoo-client-lib` (odoolib) and `odoorpc` work against the target unchanged."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import odoolib
import odoorpc
import pytest

from .conftest import OdooTarget


def _host_port(target: OdooTarget) -> tuple[str, int]:
    parsed = urlparse(target.url)
    return parsed.hostname or "127.0.0.1", parsed.port or 8069


@pytest.mark.parametrize("protocol", ["xmlrpc", "jsonrpc"])
def test_odoolib_crud_and_confirm(odoo_target: OdooTarget, protocol: str) -> None:
    host, port = _host_port(odoo_target)
    connection = odoolib.get_connection(
        hostname=host,
        port=port,
        protocol=protocol,
        database=odoo_target.db,
        login=odoo_target.login,
        password=odoo_target.password,
    )
    partners = connection.get_model("res.partner")
    name = f"odoolib {protocol} {uuid.uuid4().hex[:8]}"
    partner_id = partners.create({"name": name, "is_company": True})
    found = partners.search_read([["name", "=", name]], ["name", "is_company"])
    assert found == [{"id": partner_id, "name": name, "is_company": True}]
    assert partners.write([partner_id], {"email": "a@example.com"}) is True
    assert partners.read([partner_id], ["email"])[0]["email"] == "a@example.com"
    product_id = connection.get_model("product.product").create(
        {"name": f"svc {name}", "type": "service", "list_price": 100.0}
    )
    orders = connection.get_model("sale.order")
    order_id = orders.create(
        {
            "partner_id": partner_id,
            "order_line": [[0, 0, {"product_id": product_id, "product_uom_qty": 2}]],
        }
    )
    assert orders.action_confirm([order_id]) is True
    assert orders.read([order_id], ["state"])[0]["state"] == "sale"
    if not odoo_target.live:
        other = partners.create({"name": f"{name} (to delete)"})
        assert partners.unlink([other]) is True
        assert partners.read([other], ["name"]) == []


def test_odoorpc_crud_and_confirm(odoo_target: OdooTarget) -> None:
    host, port = _host_port(odoo_target)
    odoo = odoorpc.ODOO(host, port=port)
    odoo.login(odoo_target.db, odoo_target.login, odoo_target.password)
    Partner = odoo.env["res.partner"]
    name = f"odoorpc {uuid.uuid4().hex[:8]}"
    partner_id = Partner.create({"name": name, "is_company": True})
    rows = Partner.search_read([("name", "=", name)], ["name"])
    assert rows == [{"id": partner_id, "name": name}]
    Partner.write([partner_id], {"phone": "+1 555 0100"})
    assert Partner.browse(partner_id).phone == "+1 555 0100"
    product_id = odoo.env["product.product"].create({"name": f"svc {name}", "type": "service"})
    Order = odoo.env["sale.order"]
    order_id = Order.create(
        {
            "partner_id": partner_id,
            "order_line": [(0, 0, {"product_id": product_id, "product_uom_qty": 1})],
        }
    )
    Order.browse(order_id).action_confirm()
    assert Order.browse(order_id).state == "sale"
    temp = Partner.create({"name": f"{name} temp"})
    assert Partner.unlink([temp]) is True
    with pytest.raises(odoorpc.error.RPCError) as raised:
        Partner.unlink([temp])
    assert "Record does not exist" in str(raised.value)
