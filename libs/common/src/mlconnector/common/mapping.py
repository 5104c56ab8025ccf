"""Per-connection mapping settings: how ServiceTitan records land in one QuickBooks company.

Stored with the connection (`Connection.mapping`), edited from a YAML file by the CLI. Every
default fits a contractor's company file as QuickBooks' Contractor edition sets it up, so a
connection without any mapping file posts. An invalid mapping is refused with messages that
name the field (`mapping_errors`, `MappingSettings.from_yaml_text`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

# qbXML limits (qbxml130.xsd): one level of an account/item/class name is 31 characters and a
# FullName ("Parent:Child") 159; sales tax codes are 3; terms and payment methods 31.
NAME_LEVEL_MAX = 31
FULL_NAME_MAX = 159
TAX_CODE_MAX = 3


def _full_name(kind: str) -> Any:
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"a QuickBooks {kind} name cannot be empty")
        if len(value) > FULL_NAME_MAX:
            raise ValueError(
                f"a QuickBooks {kind} full name is at most {FULL_NAME_MAX} characters "
                f"(got {len(value)})"
            )
        for level in value.split(":"):
            if not level.strip():
                raise ValueError(f"{value!r}: empty level between ':' separators")
            if len(level) > NAME_LEVEL_MAX:
                raise ValueError(
                    f"{level!r} is {len(level)} characters; QuickBooks {kind} names are at "
                    f"most {NAME_LEVEL_MAX} per level (use 'Parent:Child' for sub-{kind}s)"
                )
        try:
            value.encode("iso-8859-1")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{value!r} has characters QuickBooks cannot store (ISO-8859-1 only)"
            ) from exc
        return value

    return check


def _short_name(kind: str, limit: int) -> Any:
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"a QuickBooks {kind} cannot be empty")
        if len(value) > limit:
            raise ValueError(
                f"a QuickBooks {kind} is at most {limit} characters (got {len(value)})"
            )
        return value

    return check


AccountName = Annotated[str, AfterValidator(_full_name("account"))]
ItemName = Annotated[str, AfterValidator(_full_name("item"))]
ClassName = Annotated[str, AfterValidator(_full_name("class"))]
TaxCode = Annotated[str, AfterValidator(_short_name("sales tax code", TAX_CODE_MAX))]
TermsName = Annotated[str, AfterValidator(_short_name("terms name", NAME_LEVEL_MAX))]
PaymentMethodName = Annotated[str, AfterValidator(_short_name("payment method", NAME_LEVEL_MAX))]


class PaymentTypeMapping(BaseModel):
    """Where one ServiceTitan payment type lands: QuickBooks payment method and deposit account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: PaymentMethodName | None = Field(
        default=None, description="QuickBooks payment method (PaymentMethodRef); none = omitted"
    )
    deposit_account: AccountName | None = Field(
        default=None, description="deposit account; none = the connection's deposit_account"
    )


def _flag_only(kind: str) -> Any:
    def check(value: str) -> str:
        if value != "flag":
            raise ValueError(
                f"{kind}s are never modified in QuickBooks after they post: a changed {kind} is "
                f"flagged for the accountant ('flag'), got {value!r}"
            )
        return value

    return check


class OnChange(BaseModel):
    """What happens when a transaction changes in ServiceTitan after it posted.

    'modify': the gateway sends the Mod (InvoiceMod / CreditMemoMod, lines by TxnLineID) after
    querying a fresh EditSequence in the same session; 'flag': nothing is sent and audit shows
    the record as "changed" with the difference, for the accountant. Payments and bills are
    always flagged (ServiceTitan's inventory bills are read-only; a payment's deposit may
    already be reconciled).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    invoice: Literal["modify", "flag"] = Field(
        default="modify", description="an invoice changed after posting"
    )
    credit_memo: Literal["modify", "flag"] = Field(
        default="modify", description="a credit memo (negative invoice) changed after posting"
    )
    payment: Annotated[str, AfterValidator(_flag_only("payment"))] = Field(
        default="flag", description="a payment changed after posting: always 'flag'"
    )
    bill: Annotated[str, AfterValidator(_flag_only("bill"))] = Field(
        default="flag", description="a bill changed after posting: always 'flag'"
    )


class MappingSettingsError(ValueError):
    """A mapping file the connector refuses; `errors` names each bad field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid mapping settings:\n" + "\n".join(f"  {e}" for e in errors))
        self.errors = errors


class MappingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # --- accounts -------------------------------------------------------------------------
    ar_account: AccountName = Field(
        default="Accounts Receivable", description="AR account of invoices and payments"
    )
    ap_account: AccountName = Field(default="Accounts Payable", description="AP account of bills")
    deposit_account: AccountName = Field(
        default="Undeposited Funds",
        description="where payments are deposited unless their payment type says otherwise",
    )
    gl_account_map: dict[str, AccountName] = Field(
        default_factory=dict,
        description="ServiceTitan GL account (name or number) -> QuickBooks account FullName; "
        "an unmapped ServiceTitan account posts to the QuickBooks account of the same name",
    )
    default_expense_account: AccountName = Field(
        default="Cost of Goods Sold", description="bill lines without a GL account"
    )
    bill_tax_account: AccountName = Field(
        default="Cost of Goods Sold", description="a bill's tax amount (its own expense line)"
    )
    bill_shipping_account: AccountName = Field(
        default="Cost of Goods Sold", description="a bill's shipping amount"
    )
    bill_other_account: AccountName = Field(
        default="Cost of Goods Sold", description="a bill's other charges"
    )
    rounding_account: AccountName = Field(
        default="Cost of Goods Sold",
        description="where the cent difference between a bill's lines and its amount posts",
    )

    # --- items ----------------------------------------------------------------------------
    item_strategy: Literal["sku", "gl_account"] = Field(
        default="sku",
        description="'sku': the QuickBooks item named like the ServiceTitan SKU (or item_map); "
        "'gl_account': one QuickBooks item per GL account, created on demand",
    )
    item_map: dict[str, ItemName] = Field(
        default_factory=dict,
        description="ServiceTitan SKU name (with item_strategy gl_account: GL account name) -> "
        "QuickBooks item FullName",
    )
    default_item: ItemName = Field(
        default="ST Service",
        description="QuickBooks item used when a ServiceTitan SKU has no item of its own",
    )
    gl_item_type: Literal["service", "other_charge"] = Field(
        default="service", description="type of the items created per GL account"
    )
    gl_item_prefix: str = Field(
        default="",
        max_length=20,
        description="prefix of the names of items created per GL account (e.g. 'ST ')",
    )

    # --- sales tax ------------------------------------------------------------------------
    sales_tax_item: ItemName = Field(
        default="ST Sales Tax",
        description="QuickBooks sales tax item (or group) of invoices (ItemSalesTaxRef)",
    )
    taxable_code: TaxCode = Field(
        default="Tax", description="QuickBooks sales tax code of taxable lines"
    )
    non_taxable_code: TaxCode = Field(
        default="Non", description="QuickBooks sales tax code of non-taxable lines"
    )
    tax_mode: Literal["quickbooks", "line"] = Field(
        default="quickbooks",
        description="'quickbooks': QuickBooks computes the tax with sales_tax_item's rate; "
        "'line': ServiceTitan's tax amount posts as its own line on sales_tax_item (lines "
        "non-taxable), so the total matches ServiceTitan to the cent whatever the rate",
    )
    tax_item_map: dict[str, ItemName] = Field(
        default_factory=dict,
        description="ServiceTitan business unit -> QuickBooks sales tax item, for invoices whose "
        "tax zone tax_zone_map does not name (else sales_tax_item)",
    )
    tax_zone_map: dict[str, ItemName] = Field(
        default_factory=dict,
        description="ServiceTitan tax zone (its id, or its name as listed in tax_zones) -> "
        "QuickBooks sales tax item (or group) whose rate is the zone's. Empty: every invoice "
        "uses sales_tax_item. Once any zone is mapped, an invoice that charged tax in a zone "
        "with no entry is refused (naming the zone) rather than taxed at another zone's rate",
    )
    tax_zones: dict[int, str] = Field(
        default_factory=dict,
        description="ServiceTitan tax zones, id -> name, as its tax-zones endpoint lists them: "
        "lets tax_zone_map name a zone instead of giving its id",
    )

    # --- classes, terms, payments ---------------------------------------------------------
    class_from_business_unit: bool = Field(
        default=False,
        description="set the QuickBooks class of invoices and bills from the business unit",
    )
    class_map: dict[str, ClassName] = Field(
        default_factory=dict,
        description="ServiceTitan business unit -> QuickBooks class (else the unit's own name)",
    )
    terms_map: dict[str, TermsName] = Field(
        default_factory=dict,
        description="ServiceTitan term name -> QuickBooks terms; unmapped terms are not sent",
    )
    default_terms: TermsName | None = Field(
        default=None, description="QuickBooks terms for records whose terms are not mapped"
    )
    payment_types: dict[str, PaymentTypeMapping] = Field(
        default_factory=dict,
        description="ServiceTitan payment type -> QuickBooks payment method and deposit account",
    )

    # --- names ----------------------------------------------------------------------------
    name_id_suffix: Literal["when_cut", "always"] = Field(
        default="when_cut",
        description="QuickBooks names are unique and at most 41 characters: 'when_cut' appends "
        "' #<ServiceTitan id>' only to names that must be shortened, 'always' to every name",
    )
    location_as_job: bool = Field(
        default=False,
        description="post invoices to a Customer:Job per ServiceTitan location (created on demand)",
    )

    # --- back to ServiceTitan (st-ingest) ---------------------------------------------------
    mark_invoices_exported: bool = Field(
        default=True,
        description="once QuickBooks has an invoice, mark it exported in ServiceTitan "
        "(invoices/markasexported, the QuickBooks TxnID as externalId)",
    )
    mark_bills_exported: bool = Field(
        default=True,
        description="once QuickBooks has an inventory bill, mark it exported in ServiceTitan",
    )
    mark_payments_exported: bool = Field(
        default=True,
        description="once QuickBooks has a payment, set its ServiceTitan status to Exported",
    )
    update_servicetitan: bool = Field(
        default=True,
        description="write customer and vendor edits made in QuickBooks to ServiceTitan",
    )
    create_in_servicetitan: bool = Field(
        default=False,
        description="add customers and vendors created in QuickBooks to ServiceTitan",
    )

    # --- after posting --------------------------------------------------------------------
    on_change: OnChange = Field(
        default_factory=OnChange,
        description="a transaction changed in ServiceTitan after it posted: 'modify' sends the "
        "Mod, 'flag' leaves it for the accountant (payments and bills: always flag)",
    )
    payment_void: Literal["flag", "delete"] = Field(
        default="flag",
        description="a payment voided or deleted in ServiceTitan after it posted: 'flag' leaves "
        "it for the accountant (its deposit may be reconciled), 'delete' deletes it in "
        "QuickBooks (TxnDelRq; QuickBooks cannot void a received payment)",
    )
    apply_credit_memos: bool = Field(
        default=True,
        description="apply the credit memo of a ServiceTitan adjustment invoice to the invoice it "
        "adjusts; false: leave it as an available credit for the customer",
    )

    @model_validator(mode="after")
    def _tax_zone_names_are_known(self) -> MappingSettings:
        known = set(self.tax_zones.values())
        unknown = [key for key in self.tax_zone_map if not key.isdigit() and key not in known]
        if unknown:
            raise ValueError(
                "tax_zone_map names tax zones that tax_zones does not list: "
                + ", ".join(repr(key) for key in unknown)
                + " (give the zone's id, or add it to tax_zones as <id>: <name>)"
            )
        return self

    def tax_zone_item(self, zone_id: int | None) -> str | None:
        """The QuickBooks sales tax item mapped to ServiceTitan tax zone `zone_id`, by its id
        first, then by its name (`tax_zones`); None when the zone has no entry."""
        if zone_id is None:
            return None
        by_id = self.tax_zone_map.get(str(zone_id))
        if by_id is not None:
            return by_id
        name = self.tax_zones.get(zone_id)
        return self.tax_zone_map.get(name) if name is not None else None

    @classmethod
    def from_yaml_text(cls, text: str) -> MappingSettings:
        """Parse a mapping file; raise MappingSettingsError naming every bad field."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise MappingSettingsError([f"not valid YAML: {exc}"]) from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise MappingSettingsError(
                [f"the mapping file must be a mapping of settings, got {type(data).__name__}"]
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MappingSettingsError(mapping_errors(exc)) from exc

    def to_yaml_text(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _known_settings(loc: Iterable[int | str]) -> list[str]:
    """The settings allowed where an unknown one was found (nested sections included)."""
    model: type[BaseModel] = MappingSettings
    for part in list(loc)[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return sorted(model.model_fields)


def mapping_errors(exc: ValidationError) -> list[str]:
    """One operator-readable line per error: the field path, then what is wrong."""
    out: list[str] = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "(mapping)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = ", ".join(_known_settings(error["loc"]))
            message = f"unknown setting (known settings: {known})"
        elif error["type"] == "literal_error":
            message = f"{message}, got {error.get('input')!r}"
        out.append(f"{path}: {message}")
    return out


def tax_zones_from_servicetitan(zones: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """`tax_zones` from the `data` of ServiceTitan's GET tax-zones answer
    (Accounting.V2.TaxZoneResponse: `id` int64, `name` string or null); unnamed zones are
    left out (map them by id)."""
    found: dict[int, str] = {}
    for zone in zones:
        zone_id, name = zone.get("id"), zone.get("name")
        if isinstance(zone_id, bool) or not isinstance(zone_id, int):
            continue
        if isinstance(name, str) and name.strip():
            found[zone_id] = name.strip()
    return found
