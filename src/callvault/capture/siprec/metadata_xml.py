"""Reading recording metadata XML without trusting it: defused, size- and depth-limited.

SRCs are on the council's network, but an SBC passes through what callers' carriers put in
headers, and one malformed or hostile body must cost a 4xx, never memory or minutes. So the
body is refused before parsing when too large, ``defusedxml`` refuses DTDs, entity declarations
and external references (billion laughs, XXE), and the tree builder stops at a depth and an
element count far beyond any real metadata (RFC 7865 documents nest five deep).
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import DefusedXMLParser

from callvault.capture.siprec.errors import SipError

# Real metadata is 1-4 KB; Ribbon caps its callData at 2 KB. 256 KiB leaves room for a
# conference with many participants and still bounds the work for one request.
MAX_METADATA_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_ELEMENTS = 10_000

FIELD = "metadata"


class MetadataError(SipError):
    """Recording metadata that cannot be read safely; answer with ``status`` and ``reason``."""

    def __init__(self, message: str, *, status: int = 400, reason: str) -> None:
        super().__init__(message, status=status, reason=reason, field=FIELD)


class _LimitedTreeBuilder(TreeBuilder):
    """A TreeBuilder that gives up as soon as the document nests or grows beyond the limits."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._count = 0

    def start(self, tag: str, attrs: dict[str, str], /) -> Element:
        self._depth += 1
        self._count += 1
        if self._depth > MAX_DEPTH:
            raise MetadataError(
                f"recording metadata nests deeper than {MAX_DEPTH} elements; RFC 7865 "
                "metadata nests about five deep: send the <recording> document as the SRC "
                "produces it",
                reason="Recording Metadata Too Deep",
            )
        if self._count > MAX_ELEMENTS:
            raise MetadataError(
                f"recording metadata has more than {MAX_ELEMENTS} elements; send one "
                "recording session's metadata",
                reason="Recording Metadata Too Long",
            )
        return super().start(tag, attrs)

    def end(self, tag: str, /) -> Element:
        self._depth -= 1
        return super().end(tag)


def _check_size(body: bytes | str) -> bytes:
    # A str can be at most four bytes a character: refuse a huge one before encoding it.
    if len(body) > MAX_METADATA_BYTES:
        raise _too_large(len(body))
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(data) > MAX_METADATA_BYTES:
        raise _too_large(len(data))
    return data


def _too_large(size: int) -> MetadataError:
    return MetadataError(
        f"recording metadata is {size} bytes; the limit is {MAX_METADATA_BYTES} bytes "
        "(real metadata is a few KB): send one recording session's metadata",
        status=413,
        reason="Request Entity Too Large",
    )


def load_metadata_xml(body: bytes | str) -> Element:
    """The root element of ``body``, or MetadataError naming why it was refused.

    Refused: more than ``MAX_METADATA_BYTES`` (413), a DTD or entity declaration, an external
    reference, more than ``MAX_DEPTH`` levels or ``MAX_ELEMENTS`` elements, and anything that
    is not well-formed XML (truncated, invalid UTF-8), all 400.
    """
    data = _check_size(body)
    parser = DefusedXMLParser(
        target=_LimitedTreeBuilder(), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(data)
        root = parser.close()
    except MetadataError:
        raise
    except DTDForbidden as exc:
        raise MetadataError(
            "recording metadata has a DOCTYPE; DTDs are refused (RFC 7865 metadata has none)",
            reason="Recording Metadata Has A DTD",
        ) from exc
    except EntitiesForbidden as exc:
        raise MetadataError(
            "recording metadata declares entities; entity declarations are refused",
            reason="Recording Metadata Has Entities",
        ) from exc
    except DefusedXmlException as exc:
        raise MetadataError(
            "recording metadata refers to an external resource; external references are refused",
            reason="Recording Metadata Has External References",
        ) from exc
    except (ParseError, ValueError, UnicodeError, LookupError) as exc:
        # ParseError: not well-formed, truncated, bad UTF-8; LookupError: an XML declaration
        # naming an encoding Python does not know (encoding="TF-8").
        raise MetadataError(
            f"recording metadata is not well-formed XML ({exc}); send the whole "
            "application/rs-metadata+xml part in UTF-8",
            reason="Recording Metadata Not Well-Formed",
        ) from exc
    if not isinstance(root, Element):
        raise MetadataError(
            "recording metadata has no root element", reason="Recording Metadata Not Well-Formed"
        )
    return root


def local_name(name: str) -> str:
    """``{urn:…:recording:1}participant`` or ``tns:participant`` -> ``participant`` (folded).

    Vendors disagree on namespaces, prefixes and case (``dataMode``/``datamode``), and none of
    them changes what an element means here, so every comparison goes through this.
    """
    if name[:1] == "{":
        name = name.rpartition("}")[2]
    return name.rpartition(":")[2].casefold()


def attribute(element: Element, *names: str) -> str | None:
    """The first of ``names`` (local, folded) present on ``element``, stripped; else None."""
    found: dict[str, str] = {local_name(key): value for key, value in element.attrib.items()}
    for name in names:
        value = found.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def children(element: Element, name: str) -> list[Element]:
    """Direct children called ``name`` (local, folded)."""
    return [child for child in element if local_name(child.tag) == name]


def descendants(element: Element, name: str) -> list[Element]:
    """Elements called ``name`` at any depth below ``element``, in document order."""
    return [node for node in element.iter() if node is not element and local_name(node.tag) == name]


def text_of(element: Element | None) -> str | None:
    """The stripped text directly inside ``element``; None when absent or blank."""
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None


def child_text(element: Element, name: str) -> str | None:
    """Text of the first direct child called ``name`` that has any."""
    for child in children(element, name):
        text = text_of(child)
        if text is not None:
            return text
    return None


def child_texts(element: Element, name: str) -> list[str]:
    """Text of every direct child called ``name``, blanks skipped."""
    return [text for child in children(element, name) if (text := text_of(child)) is not None]
