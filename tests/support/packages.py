"""Programs the tests need from the system, installed with apt-get when they are missing.

CI runs on a fresh Debian machine: a test that needs `redis-server` or `nginx` installs it
itself instead of skipping, and fails with a message saying what to install when it cannot.
"""

from __future__ import annotations

import shutil
import subprocess

# Debian puts some daemons in sbin, which is not on every user's PATH.
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def system_binary(command: str, package: str, elsewhere: str) -> str:
    """The path of `command`, installing Debian's `package` with apt-get when it is missing;
    `elsewhere` says how to install it on other systems, for the error message."""
    found = shutil.which(command) or shutil.which(command, path=SEARCH_PATH)
    if found:
        return found
    apt = shutil.which("apt-get") or shutil.which("apt-get", path=SEARCH_PATH)
    if apt is not None:
        install = [apt, "install", "-y", "--no-install-recommends", package]
        # A fresh image has no package lists yet: update once if the first install fails.
        for step in (install, [apt, "update"], install):
            subprocess.run(step, check=False, capture_output=True, timeout=600)
            found = shutil.which(command) or shutil.which(command, path=SEARCH_PATH)
            if found:
                return found
    raise RuntimeError(
        f"{command} is not installed and could not be installed with apt-get; install it "
        f"(Debian/Ubuntu: `apt-get install {package}`, {elsewhere})"
    )
