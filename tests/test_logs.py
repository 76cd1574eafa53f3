"""Structured logs: one JSON object a line, extra fields kept."""

from __future__ import annotations

import logging

import orjson
import pytest

from callvault.config import load_settings
from callvault.errors import ConfigError
from callvault.logs import JsonFormatter


def test_json_lines_keep_extra_fields() -> None:
    record = logging.LogRecord(
        "callvault.jobs", logging.INFO, __file__, 1, "job %s done", ("j1",), None
    )
    record.job_id = "j1"
    doc = orjson.loads(JsonFormatter().format(record))
    assert doc["message"] == "job j1 done" and doc["level"] == "info"
    assert doc["job_id"] == "j1" and doc["logger"] == "callvault.jobs"


def test_bad_log_format_names_the_setting(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLVAULT_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.field == "log_format"
