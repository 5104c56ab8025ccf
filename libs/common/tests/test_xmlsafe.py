from __future__ import annotations

import pytest

from mlconnector.common.xmlsafe import UnsafeXMLError, parse_untrusted

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE])
def test_entity_declarations_are_refused_unresolved(body: bytes) -> None:
    with pytest.raises(UnsafeXMLError, match="DOCTYPE or entity"):
        parse_untrusted(body)


def test_malformed_xml_is_a_clear_error() -> None:
    with pytest.raises(UnsafeXMLError, match="malformed XML"):
        parse_untrusted(b"<a><b></a>")


def test_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(UnsafeXMLError, match="larger than 100"):
        parse_untrusted(b"<a>" + b"x" * 200 + b"</a>", max_bytes=100)


def test_ordinary_document_parses_with_escaped_text_intact() -> None:
    root = parse_untrusted("<a>Smith &amp; Sons &lt;HVAC&gt; café</a>")
    assert root.text == "Smith & Sons <HVAC> café"
