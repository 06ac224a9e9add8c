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
# Cursors are opaque: no schema can say which strings the API issued, so a cursor it did not
# issue is refused (422 INVALID_INPUT) however valid the document calls the string. For the
# operations taking cursors, 422 is an accepted answer to a "valid" request; nothing else is.
CONFIG = """
[[operations]]
include-name = ["GET /v1/executions", "GET /v1/data-mash/{mash_id}/records"]
checks.positive_data_acceptance.expected-statuses = [
  "2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx",
]
"""


def test_schemathesis_finds_no_failure(api: ApiProcess, tmp_path: Path) -> None:
    token = api.token("openapi-fuzz", "fuzzer")
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(SCHEMATHESIS), "--config-file", str(config), "run", f"{api.url}/openapi.json",
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
    assert re.search(r"Tested: 9\b", report), report
