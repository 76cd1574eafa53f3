"""Test-only npm packages, installed from a folder's package-lock.json (``npm ci``) once.

The OIDC tests' OpenID Provider and the browser tests' axe-core both come from npm. The
install runs under a file lock, so parallel test workers do not race, and only when the
pinned version is not already in the folder's node_modules.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NPM_TIMEOUT_S = 300


class NpmInstallError(RuntimeError):
    """npm is missing or `npm ci` failed; the message says which and what it printed."""


def ensure_npm_package(folder: Path, package: str, missing_npm: str) -> Path:
    """``folder``/node_modules/``package`` at the version ``folder``/package.json pins,
    installed by `npm ci` if need be; NpmInstallError (``missing_npm`` when npm is absent)."""
    lock_path = Path(tempfile.gettempdir()) / f"callvault-npm-{folder.name}-{os.getuid()}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time across xdist workers
        if not _installed(folder, package):
            npm = shutil.which("npm")
            if npm is None:
                raise NpmInstallError(missing_npm)
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
                check=False,
            )
            if done.returncode != 0 or not _installed(folder, package):
                raise NpmInstallError(
                    f"`npm ci` in {folder} failed:\n{(done.stdout + done.stderr)[-2000:]}"
                )
    return folder / "node_modules" / package


def _installed(folder: Path, package: str) -> bool:
    wanted = json.loads((folder / "package.json").read_text())["dependencies"][package]
    try:
        found = json.loads((folder / "node_modules" / package / "package.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(found.get("version") == wanted)
