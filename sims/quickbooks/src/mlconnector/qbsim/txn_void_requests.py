"""TxnVoidRq and TxnDelRq (TxnVoidRet / TxnDelRet, element order per qbxml130.xsd).

The answer carries no *Ret wrapper: the TxnVoidRet/TxnDelRet group's elements sit directly in
TxnVoidRs/TxnDelRs.
"""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.outcomes import Outcome
from mlconnector.qbsim.request_fields import mod_keys, text_of
from mlconnector.qbsim.ret_fields import sub


def handle_txn_void(company: Company, request: etree._Element) -> Outcome:
    txn_type = text_of(request, "TxnVoidType") or ""
    txn_id, _ = mod_keys(request, "TxnID")  # 3000 for a TxnID that cannot be one
    voided = company.void_txn(txn_type, txn_id)
    holder = etree.Element("holder")
    sub(holder, "TxnVoidType", voided.txn_type)
    sub(holder, "TxnID", voided.txn_id)
    sub(holder, "TimeCreated", voided.time_created.isoformat())
    sub(holder, "TimeModified", voided.time_modified.isoformat())
    sub(holder, "RefNumber", voided.ref_number)
    return Outcome(list(holder))


def handle_txn_del(company: Company, request: etree._Element) -> Outcome:
    txn_type = text_of(request, "TxnDelType") or ""
    txn_id, _ = mod_keys(request, "TxnID")
    deleted = company.delete_txn(txn_type, txn_id)
    holder = etree.Element("holder")
    sub(holder, "TxnDelType", deleted.txn_type)
    sub(holder, "TxnID", deleted.txn_id)
    sub(holder, "TimeDeleted", deleted.time_deleted.isoformat())
    sub(holder, "RefNumber", deleted.ref_number)
    return Outcome(list(holder))
