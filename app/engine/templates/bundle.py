"""Template bundles: a template folder as a .zip (`<id>/template.json` plus the files it names).

A bundle comes from outside, so import trusts nothing in it. Every entry of the zip's central directory is
checked before a byte is extracted — plain relative names inside one top folder, no links, only the allowed
data file types, entry count, sizes and compression ratio — then template.json is validated, and only then
are the files extracted (each read with a byte cap, whatever size the entry declares) into a staging folder
beside the user library, checked as a whole (`load_template_folder`) and renamed into place. Any failure
removes the staging folder: a refused bundle leaves nothing behind. Nothing in a bundle is run or unpickled.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path

from app.engine.templates.library import (
    ALLOWED_SUFFIXES,
    TEMPLATE_FILE,
    LibraryTemplate,
    TemplateLibrary,
    parse_template,
)
from app.errors import InputError

MAX_ENTRIES = 64
MAX_ENTRY_BYTES = 32 << 20  # uncompressed
MAX_TOTAL_BYTES = 128 << 20  # uncompressed, all entries together
MAX_RATIO = 100  # uncompressed / compressed size of one entry: beyond it, a zip bomb
_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")
# Corrupt data surfaces as any of these from zipfile and zlib.
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, ValueError)


class TemplateInstalled(InputError):
    """The bundle is fine, but its template id is installed already: importing needs `replace=True`."""


def export_bundle(template_id: str, library: TemplateLibrary, zip_path: Path) -> Path:
    """Write template `template_id` as a bundle at `zip_path` (entries `<id>/template.json`, `<id>/<file>`,
    deflated), through a temporary file renamed when complete. Returns `zip_path`."""
    entry = library.get(template_id)
    if not zip_path.parent.is_dir():
        raise InputError(f"{zip_path.parent}: folder does not exist")
    if zip_path.is_dir():
        raise InputError(f"{zip_path}: is a folder; give the .zip file to write")
    names = [TEMPLATE_FILE, *(name for name in entry.template.files() if (entry.folder / name).is_file())]
    handle, temporary = tempfile.mkstemp(prefix=f".{zip_path.name}-", suffix=".tmp", dir=zip_path.parent)
    os.close(handle)
    try:
        # strict_timestamps off: a file dated before 1980 (the zip epoch) is stored as 1980, not refused.
        with zipfile.ZipFile(
            temporary, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False
        ) as archive:
            for name in names:
                archive.write(entry.folder / name, f"{entry.template.id}/{name}")
        os.replace(temporary, zip_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return zip_path


def _name_parts(name: str, where: str) -> list[str]:
    """The '/'-separated parts of an entry name that is a plain relative path, else InputError."""
    if not name:
        raise InputError(f"{where}: empty name")
    if name.startswith("/"):
        raise InputError(f"{where}: absolute paths are refused")
    if "\\" in name:
        raise InputError(f"{where}: backslashes are refused in names")
    if _DRIVE.match(name) or ":" in name:
        raise InputError(f"{where}: drive letters and ':' are refused in names")
    if any(ord(char) < 32 for char in name):
        raise InputError(f"{where}: control characters are refused in names")
    parts = name.split("/")
    if ".." in parts:
        raise InputError(f"{where}: '..' is refused in paths")
    if any(part in ("", ".") for part in parts):
        raise InputError(f"{where}: empty or '.' path parts are refused")
    return parts


def _check_file_entry(info: zipfile.ZipInfo, where: str) -> None:
    suffix = Path(info.filename).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        allowed = ", ".join(sorted(ALLOWED_SUFFIXES))
        raise InputError(f"{where}: file type {suffix or '(none)'!r} not allowed (allowed: {allowed})")
    if info.flag_bits & 0x1:
        raise InputError(f"{where}: encrypted entries are refused")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise InputError(f"{where}: compression method {info.compress_type} is refused (stored or deflate)")
    if info.file_size > MAX_ENTRY_BYTES:
        raise InputError(f"{where}: {info.file_size} bytes uncompressed, at most {MAX_ENTRY_BYTES} allowed")
    if info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise InputError(
            f"{where}: compresses {info.file_size} bytes into {info.compress_size} (over {MAX_RATIO}:1, "
            "a zip bomb?)"
        )


def _planned_files(bundle: Path, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """Check every central-directory entry; returns the files by their name inside the template folder."""
    if len(infos) > MAX_ENTRIES:
        raise InputError(f"{bundle}: {len(infos)} entries, at most {MAX_ENTRIES} allowed")
    tops: set[str] = set()
    files: dict[str, zipfile.ZipInfo] = {}
    seen: set[str] = set()
    total = 0
    for info in infos:
        where = f"{bundle}: entry {info.filename!r}"
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise InputError(f"{where}: symbolic links are refused")
        if info.is_dir():
            if len(_name_parts(info.filename.removesuffix("/"), where)) != 1:
                raise InputError(f"{where}: folders inside the template folder are refused")
            tops.add(info.filename.removesuffix("/"))
            continue
        parts = _name_parts(info.filename, where)
        if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            raise InputError(f"{where}: not a plain file")
        if len(parts) > 2:
            raise InputError(f"{where}: folders inside the template folder are refused")
        tops.add(parts[0] if len(parts) == 2 else "")
        _check_file_entry(info, where)
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise InputError(f"{where}: the bundle holds over {MAX_TOTAL_BYTES} bytes uncompressed")
        name = parts[-1]
        # Case-folded: on a case-insensitive disk two such names would overwrite each other.
        if name.casefold() in seen:
            raise InputError(f"{where}: a second {name} in the bundle")
        seen.add(name.casefold())
        files[name] = info
    if len(tops) > 1:
        found = ", ".join(repr(top or "(root)") for top in sorted(tops))
        raise InputError(f"{bundle}: entries must all be in one folder (found {found})")
    if TEMPLATE_FILE not in files:
        raise InputError(f"{bundle}: no {TEMPLATE_FILE}")
    return files


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """The entry's bytes, read in chunks and refused past what it declares (the declared size is checked
    against the limits, so never more than MAX_ENTRY_BYTES), or when corrupt."""
    chunks: list[bytes] = []
    read = 0
    try:
        with archive.open(info) as source:
            while chunk := source.read(_CHUNK):
                read += len(chunk)
                if read > min(info.file_size, MAX_ENTRY_BYTES):
                    raise InputError(f"{where}: holds more bytes than the {info.file_size} it declares")
                chunks.append(chunk)
    except _CORRUPT as error:
        raise InputError(f"{where}: corrupt ({error})") from None
    if read != info.file_size:
        raise InputError(f"{where}: holds {read} bytes, not the {info.file_size} it declares")
    return b"".join(chunks)


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, where: str) -> None:
    data = _read_capped(archive, info, where)
    with target.open("xb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def import_bundle(zip_path: Path, library: TemplateLibrary, replace: bool = False) -> LibraryTemplate:
    """Install the bundle at `zip_path` into the user library after checking all of it (see the module
    docstring). A template whose id is installed already is refused unless `replace`, and then still refused
    when the bundle's version is older than the installed one. Raises InputError naming the bundle and the
    entry; on any failure the user library and its folder are left exactly as they were."""
    if not zip_path.is_file():
        raise InputError(f"{zip_path}: no such file")
    try:
        archive = zipfile.ZipFile(zip_path)
    except _CORRUPT as error:
        raise InputError(f"{zip_path}: not a zip file or corrupt ({error})") from None
    with archive:
        files = _planned_files(zip_path, archive.infolist())
        json_info = files[TEMPLATE_FILE]
        data = _read_capped(archive, json_info, f"{zip_path}: entry {json_info.filename!r}")
        template = parse_template(data, f"{zip_path}: entry {json_info.filename!r}")
        _check_replacing(zip_path, library, template.id, template.version, replace)
        with library.staging_folder() as staging:
            staged = staging / template.id
            staged.mkdir()
            for name, info in files.items():
                _extract(archive, info, staged / name, f"{zip_path}: entry {info.filename!r}")
            try:
                return library.install(staged)
            except InputError as error:
                raise InputError(f"{zip_path}: {error}") from None


def _check_replacing(
    bundle: Path, library: TemplateLibrary, template_id: str, version: int, replace: bool
) -> None:
    installed = next((entry for entry in library.all() if entry.template.id == template_id), None)
    folder = library.user_dir / template_id
    if installed is None and not (folder.exists() or folder.is_symlink()):
        return
    if not replace:
        what = f"version {installed.template.version}" if installed else f"a broken folder {folder}"
        raise TemplateInstalled(
            f"{bundle}: template {template_id!r} is installed already ({what}); choose to replace it"
        )
    if installed is not None and version < installed.template.version:
        raise InputError(
            f"{bundle}: template {template_id!r} version {version} is older than the installed version "
            f"{installed.template.version}"
        )
