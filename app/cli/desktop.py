"""`storybeat desktop`: add Storybeat to the desktop menu, make `.storybeat` files open in it, and undo that.

`install` copies the files in packaging/ into the user's XDG data folder ($XDG_DATA_HOME, default
~/.local/share): the `.desktop` entry with `Exec`/`TryExec` set to the absolute path of the running
`storybeat` program, the icon into the hicolor theme, the shared-mime-info package declaring
`application/x-storybeat` (`*.storybeat`, a JSON sub-class) and the AppStream metainfo. Then it refreshes
the desktop, MIME and icon databases with whichever of `update-desktop-database`, `update-mime-database`
and `gtk-update-icon-cache` are installed. Every file is written atomically (temp file + rename), and
installing twice changes nothing. `uninstall` removes exactly those files (by their application-id names)
and refreshes the databases again; `status` reports what is installed and whether `Exec` points at an
existing program.

The functions below take the data folder as an argument (tests pass a temporary one); `cmd_desktop` reads it
from the environment. `app.cli.main` maps InputError to exit 2 and other errors to exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InputError, StorybeatError

APP_ID = "io.storybeat.Storybeat"
MIME_TYPE = "application/x-storybeat"
PROGRAM = "storybeat"
PACKAGING_DIR = Path(__file__).resolve().parents[2] / "packaging"

DESKTOP_FILE = Path("applications") / f"{APP_ID}.desktop"
METAINFO_FILE = Path("metainfo") / f"{APP_ID}.metainfo.xml"
MIME_PACKAGE = Path("mime") / "packages" / f"{APP_ID}.xml"
ICON_THEME = Path("icons") / "hicolor"

_TOOL_TIMEOUT_S = 120
# What update-mime-database generates from mime/packages (besides one XML file per type, e.g.
# application/x-storybeat.xml): with no package left they describe nothing, so uninstall removes them.
_MIME_GENERATED = (
    "globs",
    "globs2",
    "magic",
    "aliases",
    "subclasses",
    "types",
    "icons",
    "generic-icons",
    "treemagic",
    "XMLnamespaces",
    "mime.cache",
    "version",
)
_DESKTOP_GENERATED = ("mimeinfo.cache",)
_ICON_CACHE = "icon-theme.cache"
# Characters that make the Desktop Entry spec's Exec quoting necessary (a path with any of them is quoted).
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# Read once at import: os.umask can only be read by setting it, which would race with other threads later.
_UMASK = _read_umask()


class DesktopError(StorybeatError):
    """Installing failed while working (a database program failed, packaging/ is missing)."""


# -- where things are ------------------------------------------------------------------------


def data_home(environ: Mapping[str, str], home: Path) -> Path:
    """The XDG data folder: $XDG_DATA_HOME when it is an absolute path (the spec says to ignore a relative
    one), else HOME/.local/share. Raises InputError when it, or the nearest existing folder above it, is
    not a folder."""
    value = environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        folder, source = Path(value), "XDG_DATA_HOME"
    else:
        folder, source = home / ".local" / "share", "the default data folder"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        below = "" if existing == folder else f": {existing}"
        raise InputError(f"{folder} ({source}){below} is not a folder")
    return folder


def find_program(argv0: str | None = None, executable: str | None = None) -> Path | None:
    """The absolute path of the `storybeat` console script that is running (or the one installed beside this
    Python, or the one on PATH); None when there is none."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    candidates: list[Path] = []
    if argv0 and Path(argv0).name == PROGRAM:
        candidates.append(Path(argv0).resolve())
    if executable:  # the venv's bin/ (not resolved: a venv's python is a link to the base interpreter)
        candidates.append(Path(os.path.abspath(executable)).parent / PROGRAM)
    on_path = shutil.which(PROGRAM)
    if on_path:
        candidates.append(Path(on_path).resolve())
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass(frozen=True)
class Sources:
    """The files in packaging/ that `install` copies."""

    desktop: Path
    metainfo: Path
    mime: Path
    icons: tuple[tuple[Path, Path], ...]  # (source, path under the data folder)


def packaging_sources(folder: Path = PACKAGING_DIR) -> Sources:
    """The packaging files, checked to exist. Raises DesktopError when they are missing (an install that is
    not a clone of the repository)."""
    desktop = folder / f"{APP_ID}.desktop"
    metainfo = folder / f"{APP_ID}.metainfo.xml"
    mime = folder / f"{APP_ID}.mime.xml"
    png, svg = folder / "icons" / f"{PROGRAM}.png", folder / "icons" / f"{PROGRAM}.svg"
    for path in (desktop, metainfo, mime, png):
        if not path.is_file():
            raise DesktopError(
                f"{path}: missing; `storybeat desktop` works from a clone of the repository (scripts/setup)"
            )
    icons = [(png, ICON_THEME / _png_size(png) / "apps" / f"{APP_ID}.png")]
    if svg.is_file():
        icons.append((svg, ICON_THEME / "scalable" / "apps" / f"{APP_ID}.svg"))
    return Sources(desktop, metainfo, mime, tuple(icons))


def _png_size(path: Path) -> str:
    """The hicolor size folder ("256x256") of a square PNG, read from its IHDR chunk."""
    with path.open("rb") as file:
        head = file.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise DesktopError(f"{path}: not a PNG image")
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if width != height or width == 0:
        raise DesktopError(f"{path}: the icon is {width}x{height}; an icon theme needs a square one")
    return f"{width}x{height}"


# -- the .desktop entry ----------------------------------------------------------------------


def _escape_string(text: str) -> str:
    """A Desktop Entry `string` value: backslash and control characters escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _unescape_string(value: str) -> str:
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value) and value[index + 1] in escapes:
            out.append(escapes[value[index + 1]])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def exec_argument(program: Path) -> str:
    """The program as the first argument of an `Exec` key: quoted when it holds a reserved character,
    `%` doubled, then string-escaped (the spec applies the string escapes before the quoting rules)."""
    text = str(program)
    if any(char in _EXEC_RESERVED for char in text):
        text = '"' + "".join("\\" + char if char in '"`$\\' else char for char in text) + '"'
    return _escape_string(text.replace("%", "%%"))


def exec_program(value: str) -> str | None:
    """The program (first argument) of an `Exec` value as written in the file; None when it is malformed."""
    text = _unescape_string(value).lstrip()
    if not text.startswith('"'):
        return text.split(" ", 1)[0].replace("%%", "%") or None
    out: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out).replace("%%", "%")
        out.append(char)
        index += 1
    return None


def desktop_entry(template: str, program: Path, source: Path) -> str:
    """The template .desktop file with `Exec=PROGRAM %f` and `TryExec=PROGRAM` (absolute paths)."""
    if any(char in str(program) for char in "\n\r"):
        raise DesktopError(f"{program!r}: a program path with a line break cannot go into a .desktop file")
    replaced: set[str] = set()
    lines: list[str] = []
    group = ""
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            group = stripped
        elif group == "[Desktop Entry]" and "=" in stripped and not stripped.startswith("#"):
            key = stripped.split("=", 1)[0].strip()
            if key == "Exec":
                line = f"Exec={exec_argument(program)} %f"
            elif key == "TryExec":
                line = f"TryExec={_escape_string(str(program))}"
            replaced.add(key)
        lines.append(line)
    if not {"Exec", "TryExec"} <= replaced:
        raise DesktopError(f"{source}: the [Desktop Entry] group needs an Exec= and a TryExec= line")
    return "\n".join(lines) + "\n"


def _desktop_key(path: Path, wanted: str) -> str | None:
    """The raw value of one key of the [Desktop Entry] group of an installed file."""
    group = ""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            group = stripped
        elif group == "[Desktop Entry]" and "=" in stripped and not stripped.startswith("#"):
            key, value = stripped.split("=", 1)
            if key.strip() == wanted:
                return value.strip()
    return None


# -- writing and removing --------------------------------------------------------------------


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _temp_file(folder: Path, name: str) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as error:  # name the folder, not the random temp file
        raise OSError(error.errno, error.strerror, str(folder)) from None


def _write_atomic(path: Path, data: bytes) -> bool:
    """Write `data` to `path` through a temp file and a rename; False (nothing written) when it is already
    there."""
    with contextlib.suppress(OSError):
        if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
            return False
    descriptor, temp = _temp_file(path.parent, path.name)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp makes it private (0600): follow the umask instead
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return True


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove `folder` and the folders above it, up to but not including `stop`, while they are empty."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): the folders above are not empty either
            return
        folder = folder.parent


def _relative(data_dir: Path, path: Path) -> str:
    return str(path.relative_to(data_dir))


# -- the databases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Database:
    program: str
    folder: Path  # under the data folder
    options: tuple[str, ...]
    generated: tuple[str, ...]


_DATABASES = (
    _Database("update-mime-database", Path("mime"), (), _MIME_GENERATED),
    _Database("gtk-update-icon-cache", ICON_THEME, ("-q", "-f", "-t"), (_ICON_CACHE,)),
    _Database("update-desktop-database", Path("applications"), ("-q",), _DESKTOP_GENERATED),
)


def _has_sources(database: _Database, folder: Path) -> bool:
    if database.program == "update-mime-database":
        return any((folder / "packages").glob("*.xml"))
    if database.program == "update-desktop-database":
        return any(folder.rglob("*.desktop"))
    return any(path.is_file() and path.name not in (_ICON_CACHE, "index.theme") for path in folder.rglob("*"))


def update_databases(data_dir: Path) -> list[dict[str, Any]]:
    """Refresh the MIME, icon and desktop databases under `data_dir` with the programs that are installed.

    A database folder with no sources left (after an uninstall) has its generated files removed instead:
    they would describe nothing. The icon cache is only refreshed where one exists: creating one where
    there was none would hide icons that other programs add later without refreshing it. Raises DesktopError
    when a program fails."""
    environ = {**os.environ, "XDG_DATA_HOME": str(data_dir)}  # the folder the programs are told about
    report: list[dict[str, Any]] = []
    for database in _DATABASES:
        folder = data_dir / database.folder
        entry: dict[str, Any] = {"program": database.program, "folder": str(folder)}
        entry.update(status="", detail="", output="")
        report.append(entry)
        if not folder.is_dir():
            entry.update(status="skipped", detail="no folder")
            continue
        if database.program == "gtk-update-icon-cache":
            # GTK ignores a cache older than its theme folder: touching it keeps a stale one from hiding ours
            os.utime(folder)
        if not _has_sources(database, folder):
            removed = [name for name in database.generated if (folder / name).is_file()]
            for name in removed:
                (folder / name).unlink()
            if database.program == "update-mime-database":  # the per-type file it made from ours
                per_type = folder / f"{MIME_TYPE}.xml"
                if per_type.is_file():
                    per_type.unlink()
                    _prune_empty(per_type.parent, folder)
            entry.update(status="cleared" if removed else "skipped", detail="nothing left to index")
            continue
        if database.program == "gtk-update-icon-cache" and not (folder / _ICON_CACHE).is_file():
            entry.update(status="skipped", detail=f"no {_ICON_CACHE} to refresh")
            continue
        program = shutil.which(database.program)
        if program is None:
            entry.update(status="missing", detail="not installed")
            continue
        try:
            done = subprocess.run(
                [program, *database.options, str(folder)],
                capture_output=True,
                text=True,
                env=environ,
                timeout=_TOOL_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DesktopError(f"{database.program} {folder}: {error}") from None
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            first = output.splitlines()[0] if output else f"exit status {done.returncode}"
            raise DesktopError(f"{database.program} {folder} failed: {first}")
        entry.update(status="ran", detail="", output=output)
    return report


# -- install, uninstall, status --------------------------------------------------------------


def planned_files(program: Path, sources: Sources) -> list[tuple[str, Path, bytes]]:
    """(kind, path under the data folder, contents) of every file `install` writes, the entry last."""
    files: list[tuple[str, Path, bytes]] = [
        ("icon", target, source.read_bytes()) for source, target in sources.icons
    ]
    files.append(("mime", MIME_PACKAGE, sources.mime.read_bytes()))
    files.append(("metainfo", METAINFO_FILE, sources.metainfo.read_bytes()))
    template = sources.desktop.read_text(encoding="utf-8")
    files.append(("desktop", DESKTOP_FILE, desktop_entry(template, program, sources.desktop).encode()))
    return files


def installed_files(data_dir: Path) -> list[tuple[str, Path]]:
    """(kind, absolute path) of the files of ours that are in `data_dir`, found by their names."""
    found: list[tuple[str, Path]] = []
    theme = data_dir / ICON_THEME
    if theme.is_dir():
        for suffix in ("png", "svg"):
            found += [("icon", path) for path in sorted(theme.glob(f"*/apps/{APP_ID}.{suffix}"))]
    for kind, relative in (("mime", MIME_PACKAGE), ("metainfo", METAINFO_FILE), ("desktop", DESKTOP_FILE)):
        path = data_dir / relative
        if path.is_file() or path.is_symlink():
            found.append((kind, path))
    return found


def install(data_dir: Path, program: Path, sources: Sources) -> dict[str, Any]:
    """Write the files (atomically; unchanged ones are left alone) and refresh the databases."""
    files = planned_files(program, sources)
    folders = list(dict.fromkeys((data_dir / relative).parent for _, relative, _ in files))
    for folder in folders:  # every folder first: a refusal comes before anything is written
        folder.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        if not _writable(folder):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    written = [
        {"kind": kind, "path": str(data_dir / relative), "changed": _write_atomic(data_dir / relative, data)}
        for kind, relative, data in files
    ]
    return {
        "data_dir": str(data_dir),
        "exec": str(program),
        "files": written,
        "databases": update_databases(data_dir),
    }


def uninstall(data_dir: Path) -> dict[str, Any]:
    """Remove the files `install` writes (nothing else), refresh the databases, and remove the folders that
    this leaves empty."""
    removed = installed_files(data_dir)
    for _, path in removed:
        path.unlink()
    databases = update_databases(data_dir) if data_dir.is_dir() else []
    folders = {path.parent for _, path in removed}
    folders |= {data_dir / database.folder for database in _DATABASES}
    folders.add(data_dir / MIME_PACKAGE.parent)
    for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
        _prune_empty(folder, data_dir)
    return {
        "data_dir": str(data_dir),
        "removed": [{"kind": kind, "path": str(path)} for kind, path in removed],
        "databases": databases,
    }


def status(data_dir: Path, sources: Sources | None) -> dict[str, Any]:
    """What of ours is in `data_dir`, whether all of it is (when the packaging files are known), and the
    program the installed entry starts."""
    present = {path: kind for kind, path in installed_files(data_dir)}
    expected: dict[Path, str] = {
        data_dir / DESKTOP_FILE: "desktop",
        data_dir / MIME_PACKAGE: "mime",
        data_dir / METAINFO_FILE: "metainfo",
    }
    if sources is not None:
        expected.update({data_dir / target: "icon" for _, target in sources.icons})
    everything = {**expected, **present}
    program: str | None = None
    if data_dir / DESKTOP_FILE in present:
        value = _desktop_key(data_dir / DESKTOP_FILE, "Exec")
        program = exec_program(value) if value else None
    exists = program is not None and Path(program).is_file() and os.access(program, os.X_OK)
    return {
        "data_dir": str(data_dir),
        "installed": all(path in present for path in expected),
        "files": [
            {"kind": kind, "path": str(path), "present": path in present}
            for path, kind in sorted(everything.items(), key=lambda item: str(item[0]))
        ],
        "exec": program,
        "exec_exists": exists,
    }


# -- the command -----------------------------------------------------------------------------


def add_desktop_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `desktop` command and its sub-commands (install, uninstall, status) to the top-level parser."""
    desktop = subparsers.add_parser(
        "desktop", help="add Storybeat to the desktop menu and open .storybeat files with it"
    )
    actions = desktop.add_subparsers(dest="desktop_command", required=True, parser_class=type(desktop))
    install_parser = actions.add_parser(
        "install", help="install the menu entry, icon, file type and metainfo into $XDG_DATA_HOME"
    )
    uninstall_parser = actions.add_parser("uninstall", help="remove exactly what install wrote")
    status_parser = actions.add_parser("status", help="what is installed, and whether its program exists")
    for command in (install_parser, uninstall_parser, status_parser):
        command.add_argument("--json", action="store_true", help="print JSON")


def _print_databases(databases: list[dict[str, Any]]) -> None:
    for entry in databases:
        detail = f" ({entry['detail']})" if entry["detail"] else ""
        print(f"  {entry['program']}: {entry['status']}{detail}")
        for line in entry["output"].splitlines():
            print(f"    {line}")


def _print_text(command: str, report: dict[str, Any]) -> None:
    data_dir = Path(report["data_dir"])
    if command == "install":
        print(f"installed Storybeat into {data_dir} (it starts {report['exec']})")
        for file in report["files"]:
            verb = "written  " if file["changed"] else "unchanged"
            print(f"  {verb} {_relative(data_dir, Path(file['path']))}")
        _print_databases(report["databases"])
    elif command == "uninstall":
        if not report["removed"]:
            print(f"Storybeat was not installed in {data_dir}: nothing removed")
        else:
            print(f"removed Storybeat from {data_dir}")
        for file in report["removed"]:
            print(f"  removed {_relative(data_dir, Path(file['path']))}")
        _print_databases(report["databases"])
    else:
        state = "installed" if report["installed"] else "not installed"
        print(f"Storybeat is {state} in {data_dir}")
        for file in report["files"]:
            state = "present" if file["present"] else "missing"
            print(f"  {state} {_relative(data_dir, Path(file['path']))}")
        if report["exec"] is not None:
            found = "exists" if report["exec_exists"] else "MISSING: run `storybeat desktop install` again"
            print(f"  starts {report['exec']} ({found})")


def cmd_desktop(args: argparse.Namespace) -> int:
    """Run `storybeat desktop <sub-command>`; returns the exit status (errors are raised for app.cli.main)."""
    from app.cli.common import EXIT_OK

    data_dir = data_home(os.environ, Path.home())
    if args.desktop_command == "install":
        sources = packaging_sources()
        program = find_program()
        if program is None:
            raise DesktopError(
                f"cannot find the installed `{PROGRAM}` program (scripts/setup puts it in .venv/bin/)"
            )
        report = install(data_dir, program, sources)
    elif args.desktop_command == "uninstall":
        report = uninstall(data_dir)
    else:
        try:
            known: Sources | None = packaging_sources()
        except DesktopError:
            known = None
        report = status(data_dir, known)
    if args.json:
        print(json.dumps(report))
    else:
        _print_text(args.desktop_command, report)
    return EXIT_OK
