"""Which handler answers which request type. A new request type is a module plus a line here."""

from __future__ import annotations

from mlconnector.qbsim.account_requests import handle_account_query
from mlconnector.qbsim.customer_requests import handle_customer_add, handle_customer_query
from mlconnector.qbsim.host import handle_host_query
from mlconnector.qbsim.invoice_requests import handle_invoice_add, handle_invoice_query
from mlconnector.qbsim.item_requests import handle_item_query, handle_item_service_add
from mlconnector.qbsim.outcomes import Handler

DEFAULT_HANDLERS: dict[str, Handler] = {
    "HostQueryRq": handle_host_query,
    "AccountQueryRq": handle_account_query,
    "CustomerAddRq": handle_customer_add,
    "CustomerQueryRq": handle_customer_query,
    "ItemQueryRq": handle_item_query,
    "ItemServiceAddRq": handle_item_service_add,
    "InvoiceAddRq": handle_invoice_add,
    "InvoiceQueryRq": handle_invoice_query,
}
