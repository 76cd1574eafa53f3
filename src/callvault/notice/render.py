"""A ``Document`` as Markdown or HTML. Every piece of text goes through one escape per format.

HTML: ``html.escape`` on every string, attributes included, so a policy string such as
``<script>`` prints as text. Markdown is escaped too, because a council's website usually turns
the Markdown into HTML: markup characters are backslash-escaped (CommonMark) and whitespace is
folded, so a policy string can neither inject HTML nor start a heading, list or table row.
"""

from __future__ import annotations

import html
import re

from callvault.notice.document import Block, Bullets, Document, Inline, Link, Para, Table

FORMATS = ("md", "html")

# -- Markdown ---------------------------------------------------------------------------------

# Characters that are markup anywhere in a line; `&` only where it would start an entity.
_MD_MARKUP = re.compile(r"[\\`*_{}\[\]<>#|~]|&(?=#?\w+;)")
# What would start a block (list, heading underline, ordered list) at the head of a line.
_MD_LINE_START = re.compile(r"^([-+=]|\d+(?=[.)]))")
_WHITESPACE = re.compile(r"\s+")


def md_text(text: str) -> str:
    """``text`` as literal Markdown: one line, markup escaped."""
    flat = _WHITESPACE.sub(" ", text)  # one line; the spaces around a value stay
    escaped = _MD_MARKUP.sub(lambda m: "\\" + m.group(0), flat)
    start = _MD_LINE_START.match(escaped)
    if start is None:
        return escaped
    if start.group(0)[0].isdigit():  # "1." starts a list: escape the dot, not the digits
        cut = len(start.group(0))
        return f"{escaped[:cut]}\\{escaped[cut:]}"
    return "\\" + escaped


def _md_inline(part: Inline) -> str:
    if isinstance(part, Link):
        return f"[{md_text(part.text)}]({part.href})"
    return md_text(part)


def _md_para(block: Para) -> str:
    return "".join(_md_inline(part) for part in block.parts)


def _md_block(block: Block) -> str:
    if isinstance(block, Para):
        return _md_para(block)
    if isinstance(block, Bullets):
        return "\n".join(f"- {_md_para(item)}" for item in block.items)
    rows = [
        "| " + " | ".join(md_text(cell) for cell in block.headers) + " |",
        "|" + "---|" * len(block.headers),
        *("| " + " | ".join(md_text(cell) for cell in row) + " |" for row in block.rows),
    ]
    return "\n".join(rows)


def markdown(document: Document) -> str:
    parts = [f"# {md_text(document.title)}", _md_pairs(document.about)]
    for section in document.sections:
        parts.append(f"## {md_text(section.heading)}")
        parts.extend(_md_block(block) for block in section.blocks)
    parts.append("---")
    parts.append(_md_pairs(document.versions) + f"\n- **Content SHA-256:** `{document.sha256}`")
    return "\n\n".join(parts) + "\n"


def _md_pairs(pairs: tuple[tuple[str, str], ...]) -> str:
    return "\n".join(f"- **{md_text(label)}:** {md_text(value)}" for label, value in pairs)


# -- HTML -------------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_inline(part: Inline) -> str:
    if isinstance(part, Link):
        # Links are our fixed text (the ICO's page); refuse anything else rather than escape it.
        if not part.href.startswith("https://"):
            raise AssertionError(f"notice links must be https: {part.href!r}")
        return f'<a href="{_esc(part.href)}">{_esc(part.text)}</a>'
    return _esc(part)


def _html_para(block: Para) -> str:
    return "".join(_html_inline(part) for part in block.parts)


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        return f"<p>{_html_para(block)}</p>"
    if isinstance(block, Bullets):
        items = "".join(f"<li>{_html_para(item)}</li>" for item in block.items)
        return f"<ul>{items}</ul>"
    return _html_table(block)


def _html_table(table: Table) -> str:
    head = "".join(f'<th scope="col">{_esc(cell)}</th>' for cell in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_pairs(pairs: tuple[tuple[str, str], ...]) -> str:
    return "".join(f"<dt>{_esc(label)}</dt><dd>{_esc(value)}</dd>" for label, value in pairs)


def html_page(document: Document) -> str:
    """A complete page: no script, no external resource, one small inline style."""
    sections = "".join(
        f"<section><h2>{_esc(section.heading)}</h2>"
        + "".join(_html_block(block) for block in section.blocks)
        + "</section>"
        for section in document.sections
    )
    digest = document.sha256
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="notice-sha256" content="{digest}">'
        f"<title>{_esc(document.title)}</title><style>{STYLE}</style></head>\n"
        f"<body><main><h1>{_esc(document.title)}</h1>"
        f'<dl class="about">{_html_pairs(document.about)}</dl>\n{sections}\n'
        f"<footer><dl>{_html_pairs(document.versions)}"
        f"<dt>Content SHA-256</dt><dd><code>{digest}</code></dd></dl></footer>"
        "</main></body></html>\n"
    )


# Inline so the page loads nothing else (council networks block CDNs); the web route's CSP
# allows this exact style by its hash, and no script at all.
STYLE = (
    "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0 auto;max-width:72rem;"
    "padding:1rem}table{border-collapse:collapse;width:100%;margin:1rem 0}"
    "th,td{border:1px solid #999;padding:.4rem;text-align:left;vertical-align:top}"
    "dt{font-weight:bold}dd{margin:0 0 .5rem 0}footer{border-top:1px solid #999;margin-top:2rem}"
)


def render(document: Document, fmt: str) -> str:
    """``document`` in ``fmt`` (``md`` or ``html``)."""
    if fmt == "html":
        return html_page(document)
    if fmt == "md":
        return markdown(document)
    raise AssertionError(f"unknown notice format {fmt!r}; one of {FORMATS}")
