from __future__ import annotations

import hashlib
from pathlib import Path

from mlconnector.common.qbxml.schema import PACKAGED_XSD_DIR


def test_packaged_schema_is_byte_identical_to_the_anchors(anchors: Path) -> None:
    names = sorted(p.name for p in (anchors / "qbxml").glob("*.xsd"))
    assert names == sorted(p.name for p in PACKAGED_XSD_DIR.glob("*.xsd"))
    for name in names:
        official = hashlib.sha256((anchors / "qbxml" / name).read_bytes()).hexdigest()
        packaged = hashlib.sha256((PACKAGED_XSD_DIR / name).read_bytes()).hexdigest()
        assert packaged == official, name
