"""Keep requirements/lock.txt honest. Standard library only: `scripts/setup` runs it before any venv exists.

python3 scripts/lockcheck.py digest            print the digest of what the lock was resolved from
python3 scripts/lockcheck.py check             exit 2 with one line if pyproject.toml and the lock disagree
VENV/bin/python scripts/lockcheck.py installed  exit 2 if the venv holds a package the lock does not pin
                                                (or pins at another version); print packages no longer locked
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
HOLDS = ROOT / "requirements" / "holds.txt"
DIGEST_PREFIX = "# inputs-digest: "
# Installed by the venv itself or by setup, not by the project's dependency tree.
NOT_LOCKED = {"pip", "storybeat"}


def inputs_digest() -> str:
    """A digest of everything the lock is resolved from: the dependency lists of pyproject.toml (not the
    tool settings, so editing a linter rule does not invalidate the lock) and the holds."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    inputs = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "holds": [
            line.strip() for line in HOLDS.read_text().splitlines() if line.strip()[:1] not in ("", "#")
        ],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions() -> dict[str, str]:
    """name → pinned version (the lock pins one version of each package for every platform)."""
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def recorded_digest() -> str | None:
    for line in LOCK.read_text().splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line[len(DIGEST_PREFIX) :].strip()
    return None


def check() -> int:
    if not LOCK.is_file():
        print(f"error: {LOCK.relative_to(ROOT)} is missing: run scripts/lock", file=sys.stderr)
        return 2
    if recorded_digest() != inputs_digest():
        print(
            "error: requirements/lock.txt does not match the dependencies in pyproject.toml "
            "(or requirements/holds.txt): run scripts/lock and commit the new lock",
            file=sys.stderr,
        )
        return 2
    return 0


def installed() -> int:
    pins = locked_versions()
    unlocked: list[str] = []
    stale: list[str] = []
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"])
        if name in NOT_LOCKED:
            continue
        version = dist.version.split("+")[0]  # a local build label (torch's +cpu) is the same release
        if name not in pins:
            stale.append(name)
        elif pins[name].split("+")[0] != version:
            unlocked.append(f"{name} {dist.version} (the lock pins {pins[name]})")
    if unlocked:
        print(
            "error: installed versions differ from requirements/lock.txt: " + ", ".join(sorted(unlocked)),
            file=sys.stderr,
        )
        return 2
    # Packages the lock no longer names (left over from an older lock): setup uninstalls them.
    print(" ".join(sorted(stale)))
    return 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "digest":
        print(inputs_digest())
        return 0
    if command == "check":
        return check()
    if command == "installed":
        return installed()
    print(f"error: unknown command {command!r} (digest, check or installed)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
