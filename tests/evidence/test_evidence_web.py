"""``POST /api/v1/recordings/{id}/evidence``: the bundle as a download that verifies, its
disclosure entered, nothing left on the server; errors in the API's shape. (Who may call it
is in tests/web/test_web_matrix.py.)"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from access.access_helpers import add_people, as_person, grants, record
from callvault.access.disclosures import DisclosureRegister
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.evidence.verify import verify_bundle
from callvault.web.app import create_app
from evidence.evidence_helpers import FIELDS, public_pem
from web_people import sign_in


@pytest.fixture
def backend() -> str:
    """The embedded leg: the service underneath runs on both in test_evidence_bundle."""
    return "sqlite"


def test_bundle_over_the_api(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav)
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_id, "complaint", "CMP-2026-0401")
    client = TestClient(create_app(services), base_url="https://testserver")
    sign_in(client, services, "cora")
    leftovers = set(Path(tempfile.gettempdir()).glob("callvault-evidence-*"))
    url = f"/api/v1/recordings/{rec_id}/evidence"

    response = client.post(url, json={"grant": grant.id, **FIELDS})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    bundle_id = response.headers["x-bundle-id"]
    assert bundle_id in response.headers["content-disposition"]
    got = tmp_path / "downloaded.zip"
    got.write_bytes(response.content)
    report = verify_bundle(got, public_pem(services))
    assert report["bundle_id"] == bundle_id and report["made_by"] == "cora"
    assert set(Path(tempfile.gettempdir()).glob("callvault-evidence-*")) == leftovers
    (listed,) = DisclosureRegister.for_services(services).entries(as_person(services, "dana"))
    assert listed["id"] == response.headers["x-disclosure-id"] and listed["export_id"] == bundle_id

    bad = client.post(url, json={"grant": grant.id, **FIELDS, "method": "carrier pigeon"})
    assert bad.status_code == 422 and bad.json()["field"] == "method"
    refused = client.post(url, json={"grant": "f" * 32, **FIELDS})
    assert refused.status_code == 403 and refused.json()["field"] == "grant_id"
    client.close()
