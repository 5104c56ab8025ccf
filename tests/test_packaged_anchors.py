"""The official references the project relies on ship inside it, unchanged.

The packaged copies are what the code and the tests use; they are checked against the sha256
sums ServiceTitan's documents were recorded with, and byte for byte against the project's
shared/anchors when that folder sits beside the checkout (skipped where it does not).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from mlconnector.common.qbxml.schema import PACKAGED_XSD_DIR
from mlconnector.stsandbox.openapi import DOCUMENTS_DIR


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_servicetitan_documents_match_their_recorded_checksums() -> None:
    listed = dict(
        (name, digest)
        for digest, name in re.findall(
            r"^\s+([0-9a-f]{64})\s+(\S+\.json)$",
            (DOCUMENTS_DIR / "README.txt").read_text(),
            re.MULTILINE,
        )
    )
    shipped = sorted(p.name for p in DOCUMENTS_DIR.glob("*.json"))
    assert shipped == sorted(listed)
    assert len(shipped) == 8
    for name in shipped:
        assert _sha256(DOCUMENTS_DIR / name) == listed[name], name


def test_packaged_copies_are_byte_identical_to_the_official_anchors(
    official_anchors: Path, qbwc_wsdl: Path
) -> None:
    xsds = sorted(p.name for p in (official_anchors / "qbxml").glob("*.xsd"))
    assert xsds == sorted(p.name for p in PACKAGED_XSD_DIR.glob("*.xsd"))
    for name in xsds:
        assert _sha256(PACKAGED_XSD_DIR / name) == _sha256(official_anchors / "qbxml" / name)
    assert _sha256(qbwc_wsdl) == _sha256(official_anchors / "qbxml" / "QBWebConnectorSvc.wsdl")
    for path in (official_anchors / "servicetitan").iterdir():
        assert _sha256(DOCUMENTS_DIR / path.name) == _sha256(path), path.name
