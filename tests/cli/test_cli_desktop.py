"""`storybeat desktop`: install / status / uninstall through the real command line into a temporary
XDG_DATA_HOME, with the files checked by the real validators (desktop-file-validate, appstreamcli,
update-mime-database; scripts/setup installs them: desktop-file-utils, appstream, shared-mime-info)."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from app.cli import desktop, run
from app.model.project import Project
from app.model.project_file import dumps_project

APP_ID = "io.storybeat.Storybeat"
PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "demo.storybeat"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG data folder laid out as ROOT/usr/share, so `appstreamcli validate-tree ROOT` sees it."""
    folder = tmp_path / "root" / "usr" / "share"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


def _tool(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    program = shutil.which(name)
    assert program, f"{name} is not installed (scripts/setup installs it)"
    return subprocess.run([program, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert run(["desktop", *argv, "--json"]) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert isinstance(report, dict)
    return report


def _one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == ""
    assert err and err.count("\n") == 0, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under `folder`, by relative path."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


def _desktop_value(path: Path, key: str) -> str:
    [value] = [line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith(f"{key}=")]
    return value


def _glob_type(mime_dir: Path, name: str) -> str | None:
    """The MIME type `name` gets from the generated mime/globs2 (weight:type:pattern, highest weight wins,
    then the longest pattern), as xdgmime does for a file name."""
    matches = []
    for line in (mime_dir / "globs2").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        weight, mime_type, pattern = line.split(":")[:3]
        if fnmatch.fnmatchcase(name, pattern):
            matches.append((int(weight), len(pattern), mime_type))
    return max(matches)[2] if matches else None


def _make_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


# -- install -----------------------------------------------------------------------------------


def test_install_writes_files_the_validators_accept(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _json(capsys, "install")
    entry = data_dir / "applications" / f"{APP_ID}.desktop"
    assert report["data_dir"] == str(data_dir)
    assert {(file["kind"], file["path"], file["changed"]) for file in report["files"]} == {
        ("desktop", str(entry), True),
        ("icon", str(data_dir / "icons/hicolor/256x256/apps" / f"{APP_ID}.png"), True),
        ("mime", str(data_dir / "mime/packages" / f"{APP_ID}.xml"), True),
        ("metainfo", str(data_dir / "metainfo" / f"{APP_ID}.metainfo.xml"), True),
    }
    statuses = {db["program"]: db["status"] for db in report["databases"]}
    assert statuses["update-mime-database"] == "ran"
    assert statuses["update-desktop-database"] == "ran"
    assert statuses["gtk-update-icon-cache"] == "skipped"  # no cache here to keep up to date

    checked = _tool("desktop-file-validate", str(entry))
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")

    # Exec and TryExec name the running program's console script, by absolute path, and it exists.
    program = report["exec"]
    assert Path(program).is_absolute() and Path(program).name == "storybeat"
    assert os.access(program, os.X_OK) and Path(program).is_file()
    assert _desktop_value(entry, "Exec") == f"{program} %f"
    assert _desktop_value(entry, "TryExec") == program
    assert _desktop_value(entry, "MimeType") == "application/x-storybeat;"
    assert _desktop_value(entry, "Icon") == APP_ID
    # update-desktop-database registered the entry as the handler of the type
    cache = (data_dir / "applications" / "mimeinfo.cache").read_text()
    assert f"application/x-storybeat={APP_ID}.desktop;" in cache.splitlines()

    # The installed icon is the packaged one, in the size folder that matches it.
    icon = data_dir / "icons/hicolor/256x256/apps" / f"{APP_ID}.png"
    assert icon.read_bytes() == (PACKAGING / "icons" / "storybeat.png").read_bytes()


def test_metainfo_passes_appstream_validation(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packaged = _tool("appstreamcli", "validate", "--no-net", str(PACKAGING / f"{APP_ID}.metainfo.xml"))
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    assert "Validation was successful" in packaged.stdout

    assert run(["desktop", "install"]) == 0
    capsys.readouterr()
    installed = data_dir / "metainfo" / f"{APP_ID}.metainfo.xml"
    assert installed.read_bytes() == (PACKAGING / f"{APP_ID}.metainfo.xml").read_bytes()
    # validate-tree also checks that the launchable .desktop entry beside it exists (ROOT/usr/share/...)
    tree = _tool("appstreamcli", "validate-tree", "--no-net", str(data_dir.parents[1]))
    assert tree.returncode == 0, tree.stdout + tree.stderr
    assert f"{APP_ID}.metainfo.xml" in tree.stdout and "desktop-file-not-found" not in tree.stdout


def test_mime_type_maps_storybeat_files(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["desktop", "install"]) == 0
    capsys.readouterr()
    mime = data_dir / "mime"
    package = ET.parse(mime / "packages" / f"{APP_ID}.xml").getroot()
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    [mime_type] = package.findall(f"{ns}mime-type")
    assert mime_type.get("type") == "application/x-storybeat"

    # update-mime-database accepts the package: no complaint (it reports errors in a package on stderr
    # but still exits 0, so the output is what tells).
    updated = _tool("update-mime-database", str(mime), env={**os.environ, "XDG_DATA_HOME": str(data_dir)})
    assert (updated.returncode, updated.stdout + updated.stderr) == (0, "")

    assert _glob_type(mime, "My Film.storybeat") == "application/x-storybeat"
    assert _glob_type(mime, "film.storybeat.bak") is None
    assert "application/x-storybeat application/json" in (mime / "subclasses").read_text().splitlines()
    assert (mime / "application" / "x-storybeat.xml").is_file()
    magic = (mime / "magic").read_bytes()
    assert b"[50:application/x-storybeat]" in magic and b'"schema_version"' in magic

    # The magic (`{` at 0, then "schema_version" starting within bytes 1..16) fits what Storybeat writes.
    for text in (DEMO.read_bytes(), dumps_project(Project()).encode()):
        assert text[:1] == b"{" and 1 <= text.find(b'"schema_version"') <= 16


def test_install_twice_changes_nothing(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _json(capsys, "install")
    first = _tree(data_dir)
    again = _json(capsys, "install")
    assert [file["changed"] for file in again["files"]] == [False] * 4
    assert _tree(data_dir) == first  # the databases too: regenerated from the same sources
    assert not [name for name in first if name.endswith(".tmp")]


def test_exec_path_with_spaces_and_quotes(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    program = _make_executable(tmp_path / "my apps" / "it's $HOME 100%" / "storybeat")
    monkeypatch.setattr(sys, "argv", [str(program), "desktop", "install"])
    report = _json(capsys, "install")
    assert report["exec"] == str(program)
    entry = data_dir / "applications" / f"{APP_ID}.desktop"
    checked = _tool("desktop-file-validate", str(entry))
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
    # quoted (it has spaces), the $ escaped (\$, then \\$ by the string escapes), % doubled
    quoted = str(program).replace("$", "\\\\$").replace("%", "%%")
    assert _desktop_value(entry, "Exec") == f'"{quoted}" %f'
    assert _desktop_value(entry, "TryExec") == str(program)
    # status reads the program back out of the quoting
    assert _json(capsys, "status")["exec"] == str(program)


# -- status and uninstall ----------------------------------------------------------------------


def test_status_reports_both_states(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _json(capsys, "status")
    assert before["installed"] is False and before["exec"] is None and before["exec_exists"] is False
    assert len(before["files"]) == 4 and not any(file["present"] for file in before["files"])
    assert run(["desktop", "status"]) == 0
    assert "Storybeat is not installed in" in capsys.readouterr().out

    program = _make_executable(tmp_path / "venv" / "bin" / "storybeat")
    monkeypatch.setattr(sys, "argv", [str(program)])
    _json(capsys, "install")
    after = _json(capsys, "status")
    assert after["installed"] is True and all(file["present"] for file in after["files"])
    assert after["exec"] == str(program) and after["exec_exists"] is True
    assert {file["kind"] for file in after["files"]} == {"desktop", "icon", "mime", "metainfo"}

    program.unlink()  # the venv was moved away: the menu entry points at nothing
    moved = _json(capsys, "status")
    assert moved["installed"] is True and moved["exec_exists"] is False
    assert run(["desktop", "status"]) == 0
    assert "MISSING: run `storybeat desktop install` again" in capsys.readouterr().out


def test_uninstall_into_empty_folder_leaves_it_as_before(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir.mkdir(parents=True)
    assert _tree(data_dir) == {}
    _json(capsys, "install")
    report = _json(capsys, "uninstall")
    assert len(report["removed"]) == 4
    assert _tree(data_dir) == {}
    # and again: nothing to remove, still fine
    assert _json(capsys, "uninstall")["removed"] == []
    assert run(["desktop", "uninstall"]) == 0
    assert "nothing removed" in capsys.readouterr().out


def _other_app(data_dir: Path) -> None:
    """Another program's menu entry, file type and icon (with an icon cache), databases up to date."""
    (data_dir / "applications").mkdir(parents=True)
    (data_dir / "applications" / "org.example.Other.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Other\nExec=/bin/true %f\nMimeType=application/x-other;\n"
    )
    (data_dir / "mime" / "packages").mkdir(parents=True)
    (data_dir / "mime" / "packages" / "org.example.Other.xml").write_text(
        '<?xml version="1.0"?>\n<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">'
        '<mime-type type="application/x-other"><comment>Other</comment><glob pattern="*.other"/>'
        "</mime-type></mime-info>\n"
    )
    icons = data_dir / "icons" / "hicolor" / "48x48" / "apps"
    icons.mkdir(parents=True)
    shutil.copy(PACKAGING / "icons" / "storybeat.png", icons / "org.example.Other.png")
    (data_dir / "icons" / "hicolor" / "icon-theme.cache").write_bytes(b"made by someone else")
    env = {**os.environ, "XDG_DATA_HOME": str(data_dir)}
    assert _tool("update-mime-database", str(data_dir / "mime"), env=env).returncode == 0
    assert _tool("update-desktop-database", str(data_dir / "applications"), env=env).returncode == 0


def test_uninstall_keeps_other_programs_files(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _other_app(data_dir)
    before = _tree(data_dir)

    report = _json(capsys, "install")
    mime = data_dir / "mime"
    assert _glob_type(mime, "a.storybeat") == "application/x-storybeat"
    assert _glob_type(mime, "a.other") == "application/x-other"
    cache = (data_dir / "applications" / "mimeinfo.cache").read_text().splitlines()
    assert f"application/x-storybeat={APP_ID}.desktop;" in cache
    assert "application/x-other=org.example.Other.desktop;" in cache
    icon_cache = data_dir / "icons" / "hicolor" / "icon-theme.cache"
    [icons] = [db for db in report["databases"] if db["program"] == "gtk-update-icon-cache"]
    if shutil.which("gtk-update-icon-cache"):  # an existing cache is refreshed, so it lists our icon
        assert icons["status"] == "ran"
        assert APP_ID.encode() in icon_cache.read_bytes()
    else:  # the theme folder is touched, so GTK ignores the now stale cache instead of missing our icon
        assert icons["status"] == "missing"
        assert icon_cache.stat().st_mtime <= (data_dir / "icons" / "hicolor").stat().st_mtime

    removed = _json(capsys, "uninstall")
    assert {Path(file["path"]).name for file in removed["removed"]} == {
        f"{APP_ID}.desktop",
        f"{APP_ID}.png",
        f"{APP_ID}.xml",
        f"{APP_ID}.metainfo.xml",
    }
    after = _tree(data_dir)
    assert after.keys() == before.keys()
    for name in ("applications/org.example.Other.desktop", "mime/packages/org.example.Other.xml"):
        assert after[name] == before[name]
    assert _glob_type(mime, "a.storybeat") is None
    assert _glob_type(mime, "a.other") == "application/x-other"
    assert b"storybeat" not in (data_dir / "applications" / "mimeinfo.cache").read_bytes()
    assert b"storybeat" not in (mime / "mime.cache").read_bytes()


# -- bad input and failures --------------------------------------------------------------------


def test_xdg_data_home_that_is_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    a_file = tmp_path / "share"
    a_file.write_text("not a folder")
    for value in (a_file, a_file / "below"):
        monkeypatch.setenv("XDG_DATA_HOME", str(value))
        for command in ("install", "uninstall", "status"):
            assert run(["desktop", command]) == 2
            _one_line_error(capsys, "storybeat: error:", str(value), "XDG_DATA_HOME", "is not a folder")
    assert a_file.read_text() == "not a folder"


def test_unwritable_folder_fails_with_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    applications = data_dir / "applications"
    applications.mkdir(parents=True)
    applications.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        probe = applications / "probe"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:  # running as root: the mode does not stop it, so the OS's answer is given by hand
            probe.unlink()
            monkeypatch.setattr(desktop, "_writable", lambda folder: folder != applications)
        assert run(["desktop", "install"]) == 1
        _one_line_error(capsys, "storybeat: failed:", str(applications), "Permission denied")
        assert desktop.installed_files(data_dir) == []  # refused before anything was written
    finally:
        applications.chmod(0o755)


def test_relative_xdg_data_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")  # the XDG spec: a relative path is ignored
    assert _json(capsys, "status")["data_dir"] == str(tmp_path / "home" / ".local" / "share")


def test_no_program_to_start_is_a_failure(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "elsewhere" / "pytest")])
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert run(["desktop", "install"]) == 1
    _one_line_error(capsys, "storybeat: failed:", "cannot find the installed `storybeat` program")
    assert not data_dir.exists()


def test_usage_errors_are_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["desktop"]) == 2
    _one_line_error(capsys, "storybeat: error:")
    assert run(["desktop", "install", "--bogus"]) == 2
    _one_line_error(capsys, "--bogus")
    assert run(["desktop", "reinstall"]) == 2
    _one_line_error(capsys, "reinstall")


# -- the pieces --------------------------------------------------------------------------------


def test_find_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = _make_executable(tmp_path / "a" / "storybeat")
    beside = _make_executable(tmp_path / "venv" / "bin" / "storybeat")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert desktop.find_program(str(named), str(tmp_path / "venv" / "bin" / "python")) == named
    assert desktop.find_program("/usr/bin/pytest", str(tmp_path / "venv" / "bin" / "python")) == beside
    assert desktop.find_program("/usr/bin/pytest", str(tmp_path / "python")) is None
    beside.chmod(0o644)  # not executable: not a program
    assert desktop.find_program("/usr/bin/pytest", str(tmp_path / "venv" / "bin" / "python")) is None


@pytest.mark.parametrize(
    "path", ["/opt/storybeat/bin/storybeat", "/home/a b/storybeat", '/x/"q"/$HOME/`c`/\\/100%/storybeat']
)
def test_exec_quoting_round_trips(path: str) -> None:
    written = desktop.exec_argument(Path(path))
    assert (path != "/opt/storybeat/bin/storybeat") == written.startswith('"')
    assert desktop.exec_program(written + " %f") == path


def test_packaging_is_consistent_and_has_no_untested_build_file() -> None:
    entry = (PACKAGING / f"{APP_ID}.desktop").read_text()
    assert "MimeType=application/x-storybeat;" in entry.splitlines()
    assert f"Icon={APP_ID}" in entry.splitlines()
    metainfo = ET.parse(PACKAGING / f"{APP_ID}.metainfo.xml").getroot()
    assert metainfo.findtext("id") == APP_ID
    assert metainfo.findtext("launchable") == f"{APP_ID}.desktop"
    assert metainfo.findtext("provides/mediatype") == "application/x-storybeat"
    checked = _tool("desktop-file-validate", str(PACKAGING / f"{APP_ID}.desktop"))
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
    # A PyInstaller spec nobody builds is a defect (packaging/README.md says why there is none).
    assert not list(PACKAGING.rglob("*.spec"))
