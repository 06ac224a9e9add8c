"""A small synchronous client for talking to a reference Runtime process in tests."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

import httpx

TERMINAL = {"completed", "failed", "cancelled", "unknown"}

CUSTOMERS_CSV = b"""CustID,First Name,surname,E-mail,DOB,city
C001,Ann,Lee,ann@example.com,1980-01-02,Leeds
C002,Bob,Ray,bob@example.com,1975-05-06,York
C003,Cy,Day,,1990-07-08,Hull
C004,Di,Fox,di@example.com,,Bath
"""

POLICIES_JSON = json.dumps(
    [
        {"policyholder_id": "C001", "policy_no": "P-100", "annual_premium": 420.5,
         "start_date": "2024-01-01"},
        {"policyholder_id": "C002", "policy_no": "P-101", "annual_premium": 380,
         "start_date": "2024-02-01"},
        {"policyholder_id": "C003", "policy_no": "P-102", "annual_premium": 512.25,
         "start_date": "2024-03-01"},
        {"policyholder_id": "C009", "policy_no": "P-103", "annual_premium": 99,
         "start_date": "2024-04-01"},
    ]
).encode()  # fmt: skip

WEATHER_CSV = b"""station,reading_date,temperature
north,2024-01-01,3.5
south,2024-01-01,7.25
"""


def new_tenant() -> str:
    """A tenant no other test uses, so tests can share one Runtime process."""
    return f"tenant-{uuid.uuid4().hex[:8]}"


class RuntimeApi:
    """Plain HTTP calls against a Runtime at `base_url`, in the contract's shapes."""

    def __init__(self, base_url: str, tenant_id: str | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10.0)
        self.tenant_id = tenant_id or new_tenant()

    def close(self) -> None:
        self.http.close()

    def submit(self, intent_type: str, parameters: dict[str, Any], **fields: Any) -> httpx.Response:
        body = {
            "intent_type": intent_type,
            "tenant_id": self.tenant_id,
            "session_id": "session-1",
            "solution_id": "default",
            "parameters": parameters,
            **fields,
        }
        return self.http.post("/api/intent/submit", json=body)

    def upload_params(
        self, filename: str, data: bytes, mime_type: str, **overrides: Any
    ) -> dict[str, Any]:
        return {
            "filename": filename,
            "mime_type": mime_type,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_encoding": "base64",
            "file_content": base64.b64encode(data).decode(),
            **overrides,
        }

    def submit_upload(
        self, filename: str, data: bytes, mime_type: str = "text/plain", **overrides: Any
    ) -> str:
        response = self.submit(
            "content.upload", self.upload_params(filename, data, mime_type, **overrides)
        )
        assert response.status_code == 200, response.text
        execution_id: str = response.json()["execution_id"]
        return execution_id

    def status(self, execution_id: str, tenant_id: str | None = None) -> httpx.Response:
        return self.http.get(
            f"/api/execution/{execution_id}/status",
            params={"tenant_id": tenant_id or self.tenant_id},
        )

    def wait(self, execution_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.status(execution_id)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in TERMINAL:
                return body
            time.sleep(0.01)
        raise AssertionError(f"execution {execution_id} did not finish in {timeout}s")

    def upload(
        self, filename: str, data: bytes, mime_type: str = "text/plain", **overrides: Any
    ) -> dict[str, Any]:
        """Upload and wait; return the terminal status."""
        return self.wait(self.submit_upload(filename, data, mime_type, **overrides))

    def upload_file_id(self, filename: str, data: bytes, mime_type: str = "text/plain") -> str:
        status = self.upload(filename, data, mime_type)
        assert status["status"] == "completed", status
        file_id: str = status["artifacts"]["file"]["semantic_payload"]["file_id"]
        return file_id

    def mash(self, content_refs: list[str], **options: Any) -> dict[str, Any]:
        response = self.submit(
            "data_mash.create", {"content_refs": content_refs, "options": options}
        )
        assert response.status_code == 200, response.text
        return self.wait(response.json()["execution_id"])

    def artifact(
        self, artifact_id: str, tenant_id: str | None = None, **params: Any
    ) -> httpx.Response:
        return self.http.get(
            f"/api/artifacts/{artifact_id}",
            params={"tenant_id": tenant_id or self.tenant_id, **params},
        )
