"""Schemathesis against the real API's `/openapi.json`: every request the document calls valid
is accepted, every answer matches the document (status, media type, headers, schema), nothing
is a 5xx, and a request without a token is refused. Requests the document calls invalid are
not asserted refused: a multipart part is text whatever the schema's type, so "a number where
a string goes" is the very same request.

A fixed seed and a bounded number of examples keep the run reproducible and short; the tenant
is the test's own, so its rate limit and streams touch no other test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ApiProcess

SCHEMATHESIS = Path(sys.executable).with_name("st")
SEED = 20261205
MAX_EXAMPLES = 60


def test_schemathesis_finds_no_failure(api: ApiProcess, tmp_path: Path) -> None:
    token = api.token("openapi-fuzz", "fuzzer")
    command = [
        str(SCHEMATHESIS), "run", f"{api.url}/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--exclude-checks", "negative_data_rejection",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--request-timeout", "20",
        "--generation-database", "none",
        "--no-color",
    ]  # fmt: skip
    completed = subprocess.run(
        command,
        cwd=tmp_path,  # no schemathesis.toml of anyone else's, nothing left behind
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report
    # Every REST operation (and the two probes) was exercised, and no GraphQL route is there.
    assert re.search(r"Tested: 7\b", report), report
