"""A simulated QuickBooks Desktop company file and Web Connector (qbXML 13.0)."""

from mlconnector.qbsim.company import Company, QbError, seed_contractor
from mlconnector.qbsim.driver import CycleReport, WebConnectorDriver
from mlconnector.qbsim.processor import QbxmlParseError, QbxmlProcessor, process

__all__ = [
    "Company",
    "CycleReport",
    "QbError",
    "QbxmlParseError",
    "QbxmlProcessor",
    "WebConnectorDriver",
    "process",
    "seed_contractor",
]
