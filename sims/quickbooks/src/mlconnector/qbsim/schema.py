"""The company file's SQLite schema: one table per list or transaction, one per line type.

`SCHEMA` is version 1 as first shipped; `MIGRATIONS[n]` takes a file from version n to n + 1,
so company files written by an older simulator keep opening (a company survives upgrades).
"""

from __future__ import annotations

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL,
    name TEXT NOT NULL, full_name TEXT NOT NULL, is_active INTEGER NOT NULL,
    parent_id TEXT REFERENCES accounts(list_id), sublevel INTEGER NOT NULL,
    account_type TEXT NOT NULL, special_account_type TEXT, account_number TEXT,
    description TEXT, balance TEXT NOT NULL
);
CREATE UNIQUE INDEX accounts_full_name ON accounts (full_name COLLATE NOCASE);
CREATE TABLE sales_tax_codes (
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL,
    name TEXT NOT NULL, is_active INTEGER NOT NULL, is_taxable INTEGER NOT NULL,
    description TEXT
);
CREATE UNIQUE INDEX sales_tax_codes_name ON sales_tax_codes (name COLLATE NOCASE);
CREATE TABLE items (
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL,
    item_type TEXT NOT NULL, name TEXT NOT NULL, full_name TEXT NOT NULL,
    is_active INTEGER NOT NULL, parent_id TEXT REFERENCES items(list_id),
    sublevel INTEGER NOT NULL, description TEXT, price TEXT, price_percent TEXT,
    account_id TEXT REFERENCES accounts(list_id),
    sales_tax_code_id TEXT REFERENCES sales_tax_codes(list_id),
    tax_rate TEXT, tax_vendor_id TEXT
);
CREATE UNIQUE INDEX items_full_name ON items (full_name COLLATE NOCASE);
CREATE TABLE entities (
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL,
    kind TEXT NOT NULL, name TEXT NOT NULL, full_name TEXT NOT NULL,
    is_active INTEGER NOT NULL, parent_id TEXT REFERENCES entities(list_id),
    sublevel INTEGER NOT NULL, company_name TEXT, first_name TEXT, last_name TEXT,
    bill_address TEXT, ship_address TEXT, phone TEXT, email TEXT,
    balance TEXT NOT NULL, sales_tax_code_id TEXT, item_sales_tax_id TEXT,
    account_number TEXT, notes TEXT, external_guid TEXT
);
-- One name list for customers, vendors (and, in QuickBooks, employees and other names).
CREATE UNIQUE INDEX entities_full_name ON entities (full_name COLLATE NOCASE);
CREATE TABLE invoices (
    txn_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL, txn_number INTEGER NOT NULL,
    customer_id TEXT NOT NULL REFERENCES entities(list_id),
    ar_account_id TEXT NOT NULL REFERENCES accounts(list_id),
    txn_date TEXT NOT NULL, ref_number TEXT, bill_address TEXT, ship_address TEXT,
    is_pending INTEGER NOT NULL, po_number TEXT, due_date TEXT NOT NULL, ship_date TEXT NOT NULL,
    subtotal TEXT NOT NULL, item_sales_tax_id TEXT, sales_tax_percentage TEXT NOT NULL,
    sales_tax_total TEXT NOT NULL, applied_amount TEXT NOT NULL,
    balance_remaining TEXT NOT NULL, memo TEXT, is_paid INTEGER NOT NULL,
    is_to_be_printed INTEGER NOT NULL, is_to_be_emailed INTEGER NOT NULL,
    customer_sales_tax_code_id TEXT, other TEXT, external_guid TEXT
);
CREATE INDEX invoices_ref_number ON invoices (ref_number);
CREATE TABLE invoice_lines (
    txn_line_id TEXT PRIMARY KEY, txn_id TEXT NOT NULL REFERENCES invoices(txn_id),
    position INTEGER NOT NULL, item_id TEXT REFERENCES items(list_id), description TEXT,
    quantity TEXT, rate TEXT, rate_percent TEXT, amount TEXT NOT NULL, service_date TEXT,
    sales_tax_code_id TEXT REFERENCES sales_tax_codes(list_id)
);
"""

_LIST_CORE = """
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL"""
_TXN_CORE = """
    txn_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL, txn_number INTEGER NOT NULL"""

# Version 2: classes, terms, payment methods, received payments, bills; class/terms on
# customers, vendors, items, invoices and invoice lines.
MIGRATION_2 = f"""
CREATE TABLE classes ({_LIST_CORE},
    name TEXT NOT NULL, full_name TEXT NOT NULL, is_active INTEGER NOT NULL,
    parent_id TEXT REFERENCES classes(list_id), sublevel INTEGER NOT NULL
);
CREATE UNIQUE INDEX classes_full_name ON classes (full_name COLLATE NOCASE);
CREATE TABLE terms ({_LIST_CORE},
    name TEXT NOT NULL, is_active INTEGER NOT NULL, std_due_days INTEGER,
    std_discount_days INTEGER, discount_pct TEXT
);
CREATE UNIQUE INDEX terms_name ON terms (name COLLATE NOCASE);
CREATE TABLE payment_methods ({_LIST_CORE},
    name TEXT NOT NULL, is_active INTEGER NOT NULL, payment_method_type TEXT
);
CREATE UNIQUE INDEX payment_methods_name ON payment_methods (name COLLATE NOCASE);
ALTER TABLE entities ADD COLUMN class_id TEXT REFERENCES classes(list_id);
ALTER TABLE entities ADD COLUMN terms_id TEXT REFERENCES terms(list_id);
ALTER TABLE entities ADD COLUMN preferred_payment_method_id TEXT
    REFERENCES payment_methods(list_id);
ALTER TABLE invoices ADD COLUMN class_id TEXT REFERENCES classes(list_id);
ALTER TABLE invoices ADD COLUMN terms_id TEXT REFERENCES terms(list_id);
ALTER TABLE invoice_lines ADD COLUMN class_id TEXT REFERENCES classes(list_id);
ALTER TABLE items ADD COLUMN class_id TEXT REFERENCES classes(list_id);
CREATE TABLE receive_payments ({_TXN_CORE},
    customer_id TEXT NOT NULL REFERENCES entities(list_id),
    ar_account_id TEXT NOT NULL REFERENCES accounts(list_id),
    txn_date TEXT NOT NULL, ref_number TEXT, total_amount TEXT NOT NULL,
    payment_method_id TEXT REFERENCES payment_methods(list_id), memo TEXT,
    deposit_to_account_id TEXT NOT NULL REFERENCES accounts(list_id),
    unused_payment TEXT NOT NULL, external_guid TEXT
);
CREATE TABLE payment_applications (
    payment_txn_id TEXT NOT NULL REFERENCES receive_payments(txn_id),
    position INTEGER NOT NULL, invoice_txn_id TEXT NOT NULL REFERENCES invoices(txn_id),
    amount TEXT NOT NULL, PRIMARY KEY (payment_txn_id, position)
);
CREATE TABLE bills ({_TXN_CORE},
    vendor_id TEXT NOT NULL REFERENCES entities(list_id), vendor_address TEXT,
    ap_account_id TEXT NOT NULL REFERENCES accounts(list_id),
    txn_date TEXT NOT NULL, due_date TEXT NOT NULL, amount_due TEXT NOT NULL,
    ref_number TEXT, terms_id TEXT REFERENCES terms(list_id), memo TEXT,
    is_paid INTEGER NOT NULL, external_guid TEXT, open_amount TEXT NOT NULL
);
CREATE INDEX bills_ref_number ON bills (ref_number);
CREATE TABLE bill_lines (
    txn_line_id TEXT PRIMARY KEY, txn_id TEXT NOT NULL REFERENCES bills(txn_id),
    position INTEGER NOT NULL, kind TEXT NOT NULL,
    account_id TEXT REFERENCES accounts(list_id), item_id TEXT REFERENCES items(list_id),
    description TEXT, quantity TEXT, cost TEXT, amount TEXT NOT NULL, memo TEXT,
    customer_id TEXT REFERENCES entities(list_id), class_id TEXT REFERENCES classes(list_id)
);
"""

# Version 3: credit memos and the credits applied to invoices, voided invoices and bills, a
# customer's credit limit.
MIGRATION_3 = f"""
CREATE TABLE credit_memos ({_TXN_CORE},
    customer_id TEXT NOT NULL REFERENCES entities(list_id),
    ar_account_id TEXT NOT NULL REFERENCES accounts(list_id),
    txn_date TEXT NOT NULL, ref_number TEXT, bill_address TEXT, ship_address TEXT,
    is_pending INTEGER NOT NULL, po_number TEXT, due_date TEXT NOT NULL, ship_date TEXT NOT NULL,
    subtotal TEXT NOT NULL, item_sales_tax_id TEXT, sales_tax_percentage TEXT NOT NULL,
    sales_tax_total TEXT NOT NULL, total_amount TEXT NOT NULL, credit_remaining TEXT NOT NULL,
    memo TEXT, is_to_be_printed INTEGER NOT NULL, is_to_be_emailed INTEGER NOT NULL,
    customer_sales_tax_code_id TEXT, other TEXT, external_guid TEXT,
    class_id TEXT REFERENCES classes(list_id), terms_id TEXT REFERENCES terms(list_id),
    is_voided INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX credit_memos_ref_number ON credit_memos (ref_number);
CREATE TABLE credit_memo_lines (
    txn_line_id TEXT PRIMARY KEY, txn_id TEXT NOT NULL REFERENCES credit_memos(txn_id),
    position INTEGER NOT NULL, item_id TEXT REFERENCES items(list_id), description TEXT,
    quantity TEXT, rate TEXT, rate_percent TEXT, amount TEXT NOT NULL, service_date TEXT,
    sales_tax_code_id TEXT REFERENCES sales_tax_codes(list_id),
    class_id TEXT REFERENCES classes(list_id)
);
-- A credit memo's credit set against an invoice (ReceivePaymentAdd/AppliedToTxnAdd/SetCredit);
-- payment_txn_id is the ReceivePayment it came with, NULL for a credit-only message.
CREATE TABLE credit_applications (
    credit_txn_id TEXT NOT NULL REFERENCES credit_memos(txn_id),
    invoice_txn_id TEXT NOT NULL REFERENCES invoices(txn_id),
    payment_txn_id TEXT REFERENCES receive_payments(txn_id),
    amount TEXT NOT NULL, txn_date TEXT NOT NULL, seq INTEGER NOT NULL
);
ALTER TABLE invoices ADD COLUMN is_voided INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bills ADD COLUMN is_voided INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entities ADD COLUMN credit_limit TEXT;
"""

MIGRATIONS = {1: MIGRATION_2, 2: MIGRATION_3}
