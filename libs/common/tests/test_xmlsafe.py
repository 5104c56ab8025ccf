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


SOAP = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<serverVersion xmlns="http://developer.intuit.com/"/></soap:Body></soap:Envelope>'
)
LAUGHS_TEXT = BILLION_LAUGHS.decode().split("\n", 1)[1]  # without the ASCII declaration


def encoded(text: str, codec: str, bom: bytes = b"", declare: str | None = None) -> bytes:
    if declare is not None:
        text = f'<?xml version="1.0" encoding="{declare}"?>' + text
    return bom + text.encode(codec)


# Each way a document can announce its encoding (XML 1.0 Appendix F).
ENCODINGS = [
    pytest.param("utf-16-le", b"\xff\xfe", None, id="utf-16le-bom"),
    pytest.param("utf-16-be", b"\xfe\xff", None, id="utf-16be-bom"),
    pytest.param("utf-16-le", b"", "UTF-16", id="utf-16le-no-bom-declared"),
    pytest.param("utf-16-be", b"", "UTF-16", id="utf-16be-no-bom-declared"),
    pytest.param("utf-32-le", b"\xff\xfe\x00\x00", None, id="utf-32le-bom"),
    pytest.param("utf-32-be", b"\x00\x00\xfe\xff", None, id="utf-32be-bom"),
    pytest.param("utf-8", b"\xef\xbb\xbf", None, id="utf-8-bom"),
    pytest.param("iso-8859-1", b"", "ISO-8859-1", id="latin-1-declared"),
    pytest.param("cp037", b"", "IBM037", id="ebcdic-declared"),
]


@pytest.mark.parametrize(("codec", "bom", "declare"), ENCODINGS)
def test_a_doctype_is_refused_in_every_encoding(codec: str, bom: bytes, declare: str) -> None:
    body = encoded(LAUGHS_TEXT, codec, bom, declare)
    assert b"<!DOCTYPE" not in body or codec in ("utf-8", "iso-8859-1")
    with pytest.raises(UnsafeXMLError, match="DOCTYPE or entity"):
        parse_untrusted(body)


# EBCDIC is left out: this libxml2 build cannot read it at all (refused as malformed).
@pytest.mark.parametrize(("codec", "bom", "declare"), ENCODINGS[:-1])
def test_the_same_encodings_without_a_doctype_still_parse(
    codec: str, bom: bytes, declare: str
) -> None:
    root = parse_untrusted(encoded(SOAP, codec, bom, declare))
    assert root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    assert root[0][0].tag == "{http://developer.intuit.com/}serverVersion"


def test_a_utf16_doctype_is_refused_before_the_parser_sees_it() -> None:
    # An external entity in UTF-16 LE without a BOM: the old byte check let this through.
    body = encoded(XXE.decode().split("\n", 1)[1], "utf-16-le", b"", "UTF-16")
    with pytest.raises(UnsafeXMLError, match="DOCTYPE or entity"):
        parse_untrusted(body)


def test_bytes_that_do_not_decode_in_the_declared_encoding_are_refused() -> None:
    with pytest.raises(UnsafeXMLError, match="does not decode"):
        parse_untrusted(b'<?xml version="1.0" encoding="utf-8"?><a>\xff\xfe</a>')
    with pytest.raises(UnsafeXMLError, match="does not decode"):
        parse_untrusted(b'<?xml version="1.0" encoding="x-no-such-charset"?><a/>')
