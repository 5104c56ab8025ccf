"""Which handler answers which request type. A new request type is a module plus a line here."""

from __future__ import annotations

from mlconnector.qbsim.account_requests import handle_account_add, handle_account_query
from mlconnector.qbsim.bill_requests import handle_bill_add, handle_bill_query
from mlconnector.qbsim.class_requests import (
    handle_class_add,
    handle_class_mod,
    handle_class_query,
)
from mlconnector.qbsim.credit_memo_requests import (
    handle_credit_memo_add,
    handle_credit_memo_mod,
    handle_credit_memo_query,
)
from mlconnector.qbsim.customer_requests import (
    handle_customer_add,
    handle_customer_mod,
    handle_customer_query,
)
from mlconnector.qbsim.host import handle_host_query
from mlconnector.qbsim.invoice_requests import (
    handle_invoice_add,
    handle_invoice_mod,
    handle_invoice_query,
)
from mlconnector.qbsim.item_requests import (
    item_add_handler,
    item_mod_handler,
    item_query_handler,
)
from mlconnector.qbsim.outcomes import Handler
from mlconnector.qbsim.payment_method_requests import (
    handle_payment_method_add,
    handle_payment_method_query,
)
from mlconnector.qbsim.payment_requests import (
    handle_receive_payment_add,
    handle_receive_payment_query,
)
from mlconnector.qbsim.sales_tax_code_requests import (
    handle_sales_tax_code_add,
    handle_sales_tax_code_mod,
    handle_sales_tax_code_query,
)
from mlconnector.qbsim.terms_requests import handle_standard_terms_add, handle_terms_query
from mlconnector.qbsim.txn_void_requests import handle_txn_del, handle_txn_void
from mlconnector.qbsim.vendor_requests import (
    handle_vendor_add,
    handle_vendor_mod,
    handle_vendor_query,
)

DEFAULT_HANDLERS: dict[str, Handler] = {
    "HostQueryRq": handle_host_query,
    "AccountAddRq": handle_account_add,
    "AccountQueryRq": handle_account_query,
    "ClassAddRq": handle_class_add,
    "ClassModRq": handle_class_mod,
    "ClassQueryRq": handle_class_query,
    "StandardTermsAddRq": handle_standard_terms_add,
    "StandardTermsQueryRq": handle_terms_query,
    "TermsQueryRq": handle_terms_query,
    "PaymentMethodAddRq": handle_payment_method_add,
    "PaymentMethodQueryRq": handle_payment_method_query,
    "SalesTaxCodeAddRq": handle_sales_tax_code_add,
    "SalesTaxCodeModRq": handle_sales_tax_code_mod,
    "SalesTaxCodeQueryRq": handle_sales_tax_code_query,
    "CustomerAddRq": handle_customer_add,
    "CustomerModRq": handle_customer_mod,
    "CustomerQueryRq": handle_customer_query,
    "VendorAddRq": handle_vendor_add,
    "VendorModRq": handle_vendor_mod,
    "VendorQueryRq": handle_vendor_query,
    "ItemQueryRq": item_query_handler(None),
    "ItemServiceAddRq": item_add_handler("Service"),
    "ItemServiceModRq": item_mod_handler("Service"),
    "ItemServiceQueryRq": item_query_handler("Service"),
    "ItemNonInventoryAddRq": item_add_handler("NonInventory"),
    "ItemNonInventoryModRq": item_mod_handler("NonInventory"),
    "ItemNonInventoryQueryRq": item_query_handler("NonInventory"),
    "ItemOtherChargeAddRq": item_add_handler("OtherCharge"),
    "ItemOtherChargeModRq": item_mod_handler("OtherCharge"),
    "ItemOtherChargeQueryRq": item_query_handler("OtherCharge"),
    "ItemSalesTaxQueryRq": item_query_handler("SalesTax"),
    "InvoiceAddRq": handle_invoice_add,
    "InvoiceModRq": handle_invoice_mod,
    "InvoiceQueryRq": handle_invoice_query,
    "CreditMemoAddRq": handle_credit_memo_add,
    "CreditMemoModRq": handle_credit_memo_mod,
    "CreditMemoQueryRq": handle_credit_memo_query,
    "ReceivePaymentAddRq": handle_receive_payment_add,
    "ReceivePaymentQueryRq": handle_receive_payment_query,
    "BillAddRq": handle_bill_add,
    "BillQueryRq": handle_bill_query,
    "TxnVoidRq": handle_txn_void,
    "TxnDelRq": handle_txn_del,
}
