"""The lock agrees with pyproject.toml: what scripts/setup refuses to install from, caught before a push."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _lockcheck():  # scripts/ is not a package: load the same module setup runs
    spec = importlib.util.spec_from_file_location("lockcheck", ROOT / "scripts" / "lockcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lockcheck"] = module
    spec.loader.exec_module(module)
    return module


def test_lock_was_made_from_the_current_dependencies():
    lockcheck = _lockcheck()
    assert lockcheck.recorded_digest() == lockcheck.inputs_digest()


def test_every_declared_requirement_is_satisfied_by_its_pin():
    pins = _lockcheck().locked_versions()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    for text in declared:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is declared but not locked"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}: the lock pins {pins[name]}, outside {requirement.specifier}"
        )


def test_the_digest_changes_when_a_dependency_changes(tmp_path, monkeypatch):
    lockcheck = _lockcheck()
    before = lockcheck.inputs_digest()
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "holds.txt").write_text((ROOT / "requirements" / "holds.txt").read_text())
    text = (ROOT / "pyproject.toml").read_text().replace('"numpy>=1.26"', '"numpy>=2"')
    (tmp_path / "pyproject.toml").write_text(text)
    monkeypatch.setattr(lockcheck, "ROOT", tmp_path)
    monkeypatch.setattr(lockcheck, "HOLDS", tmp_path / "requirements" / "holds.txt")
    assert lockcheck.inputs_digest() != before


def test_the_installed_environment_matches_the_lock():
    # The venv the tests run in was installed by scripts/setup: nothing in it may be off the lock.
    assert _lockcheck().installed() == 0
