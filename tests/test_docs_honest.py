"""Documentation kept honest by tests: generated pages current, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from callvault.capture.metadata import OPTIONAL, REQUIRED
from callvault.cli.reference import render_reference
from callvault.config import SETTING_KEYS

# Not `from conftest import REPO`: tests/media/conftest.py can win the name "conftest".
REPO = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current() -> None:
    assert (REPO / "docs" / "cli.md").read_text() == render_reference(), (
        "docs/cli.md is stale: run `python -m callvault.cli.reference > docs/cli.md`"
    )


def test_every_setting_is_documented() -> None:
    text = (REPO / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(SETTING_KEYS)


def test_metadata_schema_matches_the_validator() -> None:
    schema = orjson.loads((REPO / "docs" / "ingest-metadata.schema.json").read_bytes())
    assert schema["required"] == list(REQUIRED)
    assert set(schema["properties"]) == set(REQUIRED) | set(OPTIONAL)


def test_readme_starts_with_the_two_commands() -> None:
    text = (REPO / "README.md").read_text()
    block = text.split("```")[1]
    assert "make run" in block and "make test" in block
