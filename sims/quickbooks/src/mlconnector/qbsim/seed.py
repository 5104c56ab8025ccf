"""A plumbing/HVAC contractor's company file, as QuickBooks' Contractor edition sets it up."""

from __future__ import annotations

from decimal import Decimal

from mlconnector.qbsim.accounts import add_account
from mlconnector.qbsim.address import Address
from mlconnector.qbsim.classes import add_class
from mlconnector.qbsim.customers import CustomerDraft, add_customer
from mlconnector.qbsim.items import add_item
from mlconnector.qbsim.payment_methods import add_payment_method
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.sales_tax_codes import add_sales_tax_code
from mlconnector.qbsim.store import Store
from mlconnector.qbsim.terms import add_standard_terms
from mlconnector.qbsim.vendors import add_vendor


def seed_contractor(
    company: Store, *, name: str = "Mountain Line Plumbing & HVAC", sample_customers: bool = False
) -> None:
    """A plumbing/HVAC contractor's company file as QuickBooks' Contractor edition sets it up.

    Customers are only created with `sample_customers`, so that an integration's own
    customers never collide with seeded names (3100) unless a test wants that.
    """
    with company.transaction():
        company.set_meta("company_name", name)
        add_account(company, "Checking", "Bank")
        add_account(
            company,
            "Accounts Receivable",
            "AccountsReceivable",
            special_account_type="AccountsReceivable",
        )
        add_account(
            company,
            "Undeposited Funds",
            "OtherCurrentAsset",
            special_account_type="UndepositedFunds",
        )
        add_account(
            company,
            "Inventory Asset",
            "OtherCurrentAsset",
            special_account_type="InventoryAssets",
            description="Parts and equipment on hand",
        )
        add_account(
            company, "Accounts Payable", "AccountsPayable", special_account_type="AccountsPayable"
        )
        add_account(
            company,
            "Sales Tax Payable",
            "OtherCurrentLiability",
            special_account_type="SalesTaxPayable",
        )
        add_account(
            company, "Opening Balance Equity", "Equity", special_account_type="OpeningBalanceEquity"
        )
        add_account(company, "Service Income", "Income", description="Labor and service calls")
        add_account(company, "Materials Income", "Income", description="Parts and materials sold")
        add_account(
            company, "Cost of Goods Sold", "CostOfGoodsSold", special_account_type="CostOfGoodsSold"
        )
        add_account(company, "Job Materials", "CostOfGoodsSold", description="Materials for jobs")
        add_account(company, "Subcontractors", "Expense")
        add_account(company, "Vehicle Expense", "Expense")
        add_account(company, "Freight and Shipping", "Expense", description="Freight in")
        add_account(company, "Permits and Licenses", "Expense")
        add_account(company, "Tools and Small Equipment", "Expense")
        add_account(company, "Discounts Given", "Income", description="Member discounts")

        # Business units, as the contractor tracks them with classes; "Plumbing - Service" and
        # "HVAC - Service" are the ServiceTitan sandbox's business units, so its records map.
        for unit in ("Plumbing", "HVAC", "Plumbing - Service", "HVAC - Service"):
            add_class(company, unit)
        add_class(company, "Install", parent=RefSpec(full_name="HVAC"))

        add_standard_terms(company, "Due on receipt", std_due_days=0)
        add_standard_terms(company, "Net 15", std_due_days=15)
        add_standard_terms(company, "Net 30", std_due_days=30)
        add_standard_terms(
            company,
            "1% 10 Net 30",
            std_due_days=30,
            std_discount_days=10,
            discount_pct=Decimal("1.0"),
        )
        for method, kind in (
            ("Cash", "Cash"),
            ("Check", "Check"),
            ("Visa", "Visa"),
            ("MasterCard", "MasterCard"),
            ("American Express", "AmericanExpress"),
            # One entry for both card brands, as many contractors set it up (the mapper's
            # default for ServiceTitan's "Credit Card").
            ("Visa/MC", "OtherCreditCard"),
            ("E-Check", "ECheck"),
        ):
            add_payment_method(company, method, payment_method_type=kind)

        taxable = add_sales_tax_code(company, "Tax", is_taxable=True, description="Taxable Sales")
        non = add_sales_tax_code(company, "Non", is_taxable=False, description="Non-Taxable Sales")
        company.set_meta("default_taxable_code", taxable.core.list_id)
        company.set_meta("default_non_taxable_code", non.core.list_id)

        agency = add_vendor(
            company,
            "State Board of Equalization",
            address=Address(
                addr1="PO Box 942879", city="Sacramento", state="CA", postal_code="94279"
            ),
        )
        add_vendor(
            company,
            "Ferguson Supply",
            company_name="Ferguson Enterprises",
            address=Address(
                addr1="1200 Industrial Way", city="Springfield", state="CA", postal_code="95101"
            ),
            phone="555-0140",
            account_number="ML-20931",
            terms=RefSpec(full_name="Net 30"),
        )
        add_vendor(
            company,
            "Johnstone Supply",
            company_name="Johnstone Supply",
            phone="555-0177",
            terms=RefSpec(full_name="Net 30"),
        )
        add_vendor(company, "City of Springfield", company_name="City of Springfield")
        add_vendor(
            company,
            "Carrier Enterprise",
            company_name="Carrier Enterprise LLC",
            address=Address(
                addr1="88 Commerce Dr", city="Springfield", state="CA", postal_code="95103"
            ),
            phone="555-0192",
            terms=RefSpec(full_name="1% 10 Net 30"),
        )
        add_vendor(
            company,
            "Rapid Rooter Subcontracting",
            first_name="Dale",
            last_name="Ortiz",
            phone="555-0164",
            terms=RefSpec(full_name="Net 15"),
        )

        tax_item = add_item(
            company,
            "SalesTax",
            "ST Sales Tax",
            description="State and local sales tax",
            tax_rate=Decimal("8.25"),
            tax_vendor=RefSpec(full_name=agency.full_name),
        )
        company.set_meta("most_common_sales_tax_item", tax_item.core.list_id)
        # A second tax zone, as a multi-zone contractor sets one up (the ServiceTitan sandbox's
        # zone 32 "Round Rock 6.25%"; "ST Sales Tax" above matches its zone 31, 8.25%).
        add_item(
            company,
            "SalesTax",
            "Round Rock Tax",
            description="Round Rock sales tax",
            tax_rate=Decimal("6.25"),
            tax_vendor=RefSpec(full_name=agency.full_name),
        )

        service = RefSpec(full_name="Service Income")
        materials = RefSpec(full_name="Materials Income")
        non_ref = RefSpec(full_name="Non")
        tax_ref = RefSpec(full_name="Tax")
        add_item(
            company,
            "Service",
            "Labor",
            description="Labor",
            price=Decimal("95.00"),
            account=service,
            sales_tax_code=non_ref,
        )
        add_item(
            company,
            "Service",
            "ST Service",
            description="ServiceTitan service",
            account=service,
            sales_tax_code=non_ref,
        )
        add_item(
            company,
            "Service",
            "Service Call",
            description="Diagnostic service call",
            price=Decimal("89.00"),
            account=service,
            sales_tax_code=non_ref,
        )
        add_item(
            company,
            "Service",
            "HVAC Maintenance",
            description="Seasonal HVAC tune-up",
            price=Decimal("149.00"),
            account=service,
            sales_tax_code=non_ref,
        )
        add_item(
            company,
            "NonInventory",
            "PVC-075",
            description='3/4" PVC pipe, per foot',
            price=Decimal("3.75"),
            account=materials,
            sales_tax_code=tax_ref,
        )
        add_item(
            company,
            "NonInventory",
            "CU-050",
            description='1/2" copper pipe, per foot',
            price=Decimal("6.40"),
            account=materials,
            sales_tax_code=tax_ref,
        )
        add_item(
            company,
            "NonInventory",
            "WH-50G",
            description="50 gal gas water heater",
            price=Decimal("1150.00"),
            account=materials,
            sales_tax_code=tax_ref,
        )
        # The parts the demo ServiceTitan pricebook sells, so its invoices map item for item.
        for sku, description, price in (
            ("FLTR-16251", "Air filter 16x25x1 MERV 11", "18.75"),
            ("R410A-LB", "R-410A refrigerant, per lb", "42.00"),
            ("PVC-150", '1-1/2" PVC DWV pipe, 10 ft', "12.35"),
            ("VLV-BALL-100", '1" full-port brass ball valve', "27.80"),
            ("DRN-ENZ-32", "Enzyme drain cleaner, 32 oz", "24.99"),
        ):
            add_item(
                company,
                "NonInventory",
                sku,
                description=description,
                price=Decimal(price),
                account=materials,
                sales_tax_code=tax_ref,
            )
        add_item(
            company,
            "NonInventory",
            "ST Materials",
            description="ServiceTitan materials",
            account=materials,
            sales_tax_code=tax_ref,
        )
        add_item(
            company,
            "OtherCharge",
            "Permit Fee",
            description="Municipal permit fee",
            account=service,
            sales_tax_code=non_ref,
        )
        add_item(
            company,
            "OtherCharge",
            "Member Discount",
            description="Member discount",
            account=RefSpec(full_name="Discounts Given"),
            sales_tax_code=non_ref,
        )
        add_item(
            company,
            "OtherCharge",
            "Trip Charge",
            description="Trip charge",
            price=Decimal("35.00"),
            account=service,
            sales_tax_code=non_ref,
        )

        if sample_customers:
            smith = add_customer(
                company,
                CustomerDraft(
                    name="Smith, John",
                    first_name="John",
                    last_name="Smith",
                    bill_address=Address(
                        addr1="John Smith",
                        addr2="12 Oak St",
                        city="Springfield",
                        state="CA",
                        postal_code="95101",
                    ),
                    phone="555-0101",
                ),
            )
            add_customer(
                company,
                CustomerDraft(
                    name="Water Heater Replacement", parent=RefSpec(list_id=smith.core.list_id)
                ),
            )
            add_customer(
                company,
                CustomerDraft(
                    name="Acme Property Management",
                    company_name="Acme Property Management",
                    bill_address=Address(
                        addr1="Acme Property Management",
                        addr2="400 Main St",
                        city="Springfield",
                        state="CA",
                        postal_code="95102",
                    ),
                ),
            )
