"""Mapping settings: defaults for a contractor, YAML in and out, refusals that name the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlconnector.common.connections import Connection
from mlconnector.common.mapping import (
    MappingSettings,
    MappingSettingsError,
    OnChange,
    PaymentTypeMapping,
    mapping_errors,
    tax_zones_from_servicetitan,
)


def test_defaults_fit_a_contractor_company_file() -> None:
    mapping = MappingSettings()
    assert mapping.ar_account == "Accounts Receivable"
    assert mapping.ap_account == "Accounts Payable"
    assert mapping.deposit_account == "Undeposited Funds"
    assert mapping.sales_tax_item == "ST Sales Tax"
    assert (mapping.taxable_code, mapping.non_taxable_code) == ("Tax", "Non")
    assert mapping.tax_mode == "quickbooks"
    assert mapping.item_strategy == "sku"
    assert mapping.default_item == "ST Service"
    assert mapping.rounding_account == "Cost of Goods Sold"
    assert mapping.class_from_business_unit is False
    assert mapping.location_as_job is False
    assert mapping.name_id_suffix == "when_cut"
    assert mapping.payment_types == {}
    assert mapping.default_terms is None


def test_yaml_file_with_every_kind_of_setting() -> None:
    text = """
ar_account: Accounts Receivable
deposit_account: Undeposited Funds
gl_account_map:
  "4000": Income:Service
  Equipment Sales: Income:Equipment
item_strategy: gl_account
gl_item_type: other_charge
class_from_business_unit: true
class_map:
  HVAC - Install: HVAC:Install
terms_map:
  Net 30: Net 30
payment_types:
  Credit Card:
    method: Visa/MC
    deposit_account: Merchant Clearing
  Check:
    method: Check
name_id_suffix: always
location_as_job: true
tax_mode: line
"""
    mapping = MappingSettings.from_yaml_text(text)
    assert mapping.gl_account_map == {
        "4000": "Income:Service",
        "Equipment Sales": "Income:Equipment",
    }
    assert mapping.payment_types["Credit Card"] == PaymentTypeMapping(
        method="Visa/MC", deposit_account="Merchant Clearing"
    )
    assert mapping.payment_types["Check"].deposit_account is None
    assert mapping.item_strategy == "gl_account"
    # What the CLI writes back is read back the same.
    assert MappingSettings.from_yaml_text(mapping.to_yaml_text()) == mapping


def test_empty_file_means_the_defaults() -> None:
    assert MappingSettings.from_yaml_text("") == MappingSettings()
    assert MappingSettings.from_yaml_text("# nothing mapped yet\n") == MappingSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ar_account: Accounts Receivable for the Whole Company\n",
            "ar_account: 'Accounts Receivable for the Whole Company' is 41 characters; "
            "QuickBooks account names are at most 31 per level (use 'Parent:Child' for "
            "sub-accounts)",
        ),
        (
            "gl_account_map:\n  '4000': ''\n",
            "gl_account_map.4000: a QuickBooks account name cannot be empty",
        ),
        (
            "gl_account_map:\n  Sales: 'Income::Sales'\n",
            "gl_account_map.Sales: 'Income::Sales': empty level between ':' separators",
        ),
        (
            "taxable_code: Taxable\n",
            "taxable_code: a QuickBooks sales tax code is at most 3 characters (got 7)",
        ),
        (
            "item_strategy: per-gl\n",
            "item_strategy: Input should be 'sku' or 'gl_account', got 'per-gl'",
        ),
        (
            "payment_types:\n  Card:\n    methd: Visa\n",
            "payment_types.Card.methd: unknown setting",
        ),
        (
            "deposit_acount: Checking\n",
            "deposit_acount: unknown setting (known settings: ",
        ),
        (
            "item_map:\n  Labor: Ünïcödé ✓ Labor\n",
            "item_map.Labor: 'Ünïcödé ✓ Labor' has characters QuickBooks cannot store "
            "(ISO-8859-1 only)",
        ),
        ("class_from_business_unit: maybe\n", "class_from_business_unit: Input should be a"),
    ],
)
def test_invalid_mapping_is_refused_naming_the_field(text: str, expected: str) -> None:
    with pytest.raises(MappingSettingsError) as caught:
        MappingSettings.from_yaml_text(text)
    assert len(caught.value.errors) == 1
    assert caught.value.errors[0].startswith(expected), caught.value.errors
    assert expected.split(":")[0] in str(caught.value)


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(MappingSettingsError) as caught:
        MappingSettings.from_yaml_text("tax_mode: never\nnon_taxable_code: None at all\n")
    assert [e.split(":")[0] for e in caught.value.errors] == ["non_taxable_code", "tax_mode"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ar_account: [unclosed\n", "not valid YAML"),
        ("- a\n- list\n", "the mapping file must be a mapping of settings, got list"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_refused(text: str, expected: str) -> None:
    with pytest.raises(MappingSettingsError, match=expected):
        MappingSettings.from_yaml_text(text)


def test_mapping_errors_turns_a_validation_error_into_lines() -> None:
    with pytest.raises(ValidationError) as caught:
        MappingSettings.model_validate(
            {"rounding_account": "x" * 32, "location_as_job": "sometimes"}
        )
    lines = mapping_errors(caught.value)
    assert lines[0].startswith("rounding_account: 'xxxxxxxx")
    assert lines[1].startswith("location_as_job: Input should be a valid boolean")


def test_connections_stored_before_the_new_settings_still_load() -> None:
    stored = {
        "name": "acme",
        "tenant": "1234567",
        "qbwc_username": "acme",
        "password_hash": "x",
        "mapping": {
            "ar_account": "AR",
            "sales_tax_item": "IL Tax",
            "item_map": {"Labor": "Labor Hour"},
            "class_from_business_unit": True,
        },
    }
    connection = Connection.model_validate(stored)
    assert connection.mapping.ar_account == "AR"
    assert connection.mapping.deposit_account == "Undeposited Funds"
    again = Connection.model_validate_json(connection.model_dump_json())
    assert again.mapping == connection.mapping


def test_after_posting_defaults_modify_invoices_and_credit_memos_flag_the_rest() -> None:
    mapping = MappingSettings()
    assert mapping.on_change == OnChange(
        invoice="modify", credit_memo="modify", payment="flag", bill="flag"
    )
    assert mapping.payment_void == "flag"
    assert mapping.apply_credit_memos is True
    text = "on_change:\n  invoice: flag\npayment_void: delete\napply_credit_memos: false\n"
    changed = MappingSettings.from_yaml_text(text)
    assert (changed.on_change.invoice, changed.on_change.credit_memo) == ("flag", "modify")
    assert (changed.payment_void, changed.apply_credit_memos) == ("delete", False)
    assert MappingSettings.from_yaml_text(changed.to_yaml_text()) == changed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "on_change:\n  payment: modify\n",
            "on_change.payment: payments are never modified in QuickBooks after they post: a "
            "changed payment is flagged for the accountant ('flag'), got 'modify'",
        ),
        (
            "on_change:\n  bill: modify\n",
            "on_change.bill: bills are never modified in QuickBooks after they post: a changed "
            "bill is flagged for the accountant ('flag'), got 'modify'",
        ),
        (
            "on_change:\n  estimate: flag\n",
            "on_change.estimate: unknown setting (known settings: bill, credit_memo, invoice, "
            "payment)",
        ),
        ("payment_void: void\n", "payment_void: Input should be 'flag' or 'delete', got 'void'"),
        (
            "tax_zone_map:\n  Round Rock: Round Rock Tax\n",
            "(mapping): tax_zone_map names tax zones that tax_zones does not list: 'Round Rock' "
            "(give the zone's id, or add it to tax_zones as <id>: <name>)",
        ),
        (
            'tax_zone_map:\n  "32": "Round Rock Tax Item With A Long Name"\n',
            "tax_zone_map.32: 'Round Rock Tax Item With A Long Name' is 36 characters; "
            "QuickBooks item names are at most 31 per level (use 'Parent:Child' for sub-items)",
        ),
    ],
)
def test_after_posting_and_tax_zone_settings_are_checked(text: str, expected: str) -> None:
    with pytest.raises(MappingSettingsError) as caught:
        MappingSettings.from_yaml_text(text)
    assert caught.value.errors == [expected]


def test_tax_zones_by_id_or_by_name() -> None:
    text = """
tax_zones:
  31: Travis County
  32: Round Rock
tax_zone_map:
  "31": ST Sales Tax
  Round Rock: Round Rock Tax
"""
    mapping = MappingSettings.from_yaml_text(text)
    assert mapping.tax_zone_item(31) == "ST Sales Tax"
    assert mapping.tax_zone_item(32) == "Round Rock Tax"
    assert mapping.tax_zone_item(33) is None
    assert mapping.tax_zone_item(None) is None
    assert MappingSettings.from_yaml_text(mapping.to_yaml_text()) == mapping


def test_tax_zones_from_servicetitans_tax_zones_answer() -> None:
    """The data of GET /tenant/{tenant}/tax-zones (Accounting.V2.TaxZoneResponse)."""
    zones = [
        {"id": 31, "name": "Travis County", "isTaxRateSeparated": False, "rates": []},
        {"id": 32, "name": " Round Rock ", "isTaxRateSeparated": False, "rates": []},
        {"id": 33, "name": None, "rates": []},
        {"id": True, "name": "not an id"},
    ]
    assert tax_zones_from_servicetitan(zones) == {31: "Travis County", 32: "Round Rock"}
