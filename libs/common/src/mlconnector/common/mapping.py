"""Per-connection mapping settings (deepened by the mapper issue; defaults fit a contractor)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MappingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ar_account: str = Field(default="Accounts Receivable", max_length=31)
    ap_account: str = Field(default="Accounts Payable", max_length=31)
    deposit_account: str = Field(default="Undeposited Funds", max_length=31)
    sales_tax_item: str = Field(default="ST Sales Tax", max_length=31)
    taxable_code: str = Field(default="Tax", max_length=3)
    non_taxable_code: str = Field(default="Non", max_length=3)
    default_item: str = Field(
        default="ST Service",
        max_length=31,
        description="QuickBooks item used when a ServiceTitan SKU has no item of its own",
    )
    item_map: dict[str, str] = Field(
        default_factory=dict, description="ServiceTitan SKU name -> QuickBooks item FullName"
    )
    class_from_business_unit: bool = False
