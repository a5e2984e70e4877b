"""The document and the engine run without Qt: import every module with PySide6 made unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_BLOCK_AND_IMPORT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class BlockQt:
        def find_spec(self, name, path=None, target=None):
            if name in {blocked} or name.split(".")[0] in {blocked}:
                raise ImportError(f"{{name}} is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockQt())
    import app.{package} as package
    for module in pkgutil.walk_packages(package.__path__, "app.{package}."):
        if module.name not in {skip}:
            importlib.import_module(module.name)
    print("imported", len(sys.modules))
    """
)


def _import_all(
    package: str, blocked: set[str], skip: frozenset[str] = frozenset()
) -> subprocess.CompletedProcess[str]:
    code = _BLOCK_AND_IMPORT.format(package=package, blocked=sorted(blocked), skip=sorted(skip))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_model_imports_without_qt_or_heavy_engine_libraries() -> None:
    result = _import_all("model", {"PySide6", "shiboken6", "cv2", "av", "torch", "librosa", "diffusers"})
    assert result.returncode == 0, result.stderr


def test_engine_imports_without_qt_except_the_worker() -> None:
    result = _import_all("engine", {"PySide6", "shiboken6"}, skip=frozenset({"app.engine.worker"}))
    assert result.returncode == 0, result.stderr


def test_engine_worker_needs_only_qtcore() -> None:
    result = _import_all("engine", {"PySide6.QtWidgets", "PySide6.QtGui"})
    assert result.returncode == 0, result.stderr


def test_blocking_works() -> None:
    # Guards the two tests above against a blocker that silently blocks nothing.
    code = _BLOCK_AND_IMPORT.replace("import app.{package} as package", "import PySide6.QtWidgets")
    code = code.format(package="model", blocked=["PySide6"], skip=[]).split("for module")[0]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "blocked" in result.stderr
