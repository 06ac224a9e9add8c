"""The SDK stands alone: importing it pulls in nothing of the service or the reference Runtime."""

from __future__ import annotations

import subprocess
import sys

CHECK = (
    "import experience_plane_sdk, experience_plane_sdk.cli, sys; "
    "leaked = sorted(m for m in sys.modules if m == 'experience_plane' "
    "or m.startswith(('experience_plane.', 'reference_runtime'))); "
    "assert not leaked, leaked"
)


def test_importing_the_sdk_imports_nothing_from_the_service() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
