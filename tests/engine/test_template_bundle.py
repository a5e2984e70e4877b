"""Template bundles: export → import round trip, and every kind of bad bundle refused with one line naming
the bundle and the entry, leaving the user library and its folder exactly as they were."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app.engine.templates import bundle as bundle_module
from app.engine.templates.bundle import export_bundle, import_bundle
from app.engine.templates.library import TemplateLibrary, load_template_folder
from app.errors import InputError
from tests.engine.test_template_library import cube_text, listing, png_bytes, write_template

_GOOD_JSON = json.dumps({"id": "noir", "name": "Noir", "references": ["ref0.png"], "lut": "look.cube"})


@pytest.fixture
def library(tmp_path: Path) -> TemplateLibrary:
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)  # the data folder holds other things too
    (data / "notes.txt").write_text("keep me")
    library = TemplateLibrary(builtin_dir=tmp_path / "builtin", user_dir=data / "templates")
    write_template(library.user_dir / "kept", name="Kept")
    return library


def _zip(
    path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some cases need
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return path


def _good_files(top: str = "noir/") -> list[tuple[str | zipfile.ZipInfo, bytes]]:
    return [
        (f"{top}template.json", _GOOD_JSON.encode()),
        (f"{top}ref0.png", png_bytes((10, 20, 30))),
        (f"{top}look.cube", cube_text().encode()),
    ]


def _png_declaring(width: int, height: int) -> bytes:
    """A real PNG header whose IHDR claims `width`×`height` (a few bytes that would decode to gigabytes)."""
    good = png_bytes((1, 2, 3))
    return good[:16] + struct.pack(">II", width, height) + good[24:]


def _symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("noir/thumbnail.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _patch_sizes(path: Path, name: str, declared: int) -> Path:
    """Rewrite the uncompressed size `name` declares (local header and central directory) to `declared`."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    # (signature, offset of the uncompressed size, of the name's length, of the name) per header kind
    for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            length = int.from_bytes(data[start + length_at : start + length_at + 2], "little")
            if bytes(data[start + name_at : start + name_at + length]) == encoded:
                data[start + size_at : start + size_at + 4] = declared.to_bytes(4, "little")
            start += 4
    path.write_bytes(bytes(data))
    return path


def _corrupt_data(path: Path) -> Path:
    """Flip bytes inside ref0.png's compressed data (the directory stays readable)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("noir/ref0.png")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 4
    data[start : start + 8] = bytes(255 - value for value in data[start : start + 8])
    path.write_bytes(bytes(data))
    return path


_BIG = 33 << 20
_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "zip-slip": (lambda p: _zip(p, [*_good_files(), ("../evil.json", b"{}")]), "'..' is refused"),
    "zip-slip inside": (lambda p: _zip(p, [*_good_files(), ("noir/../../x.png", b"")]), "'..' is refused"),
    "absolute path": (lambda p: _zip(p, [*_good_files(), ("/tmp/evil.png", b"")]), "absolute paths"),
    "drive letter": (lambda p: _zip(p, [*_good_files(), ("C:/evil.png", b"")]), "drive letters"),
    "backslash": (lambda p: _zip(p, [*_good_files(), ("noir\\..\\evil.png", b"")]), "backslashes"),
    "symlink": (lambda p: _zip(p, [*_good_files(), (_symlink_entry(), b"/etc/passwd")]), "symbolic links"),
    "python file": (lambda p: _zip(p, [*_good_files(), ("noir/run.py", b"import os")]), "file type '.py'"),
    "executable": (lambda p: _zip(p, [*_good_files(), ("noir/run.exe", b"MZ")]), "file type '.exe'"),
    "no suffix": (lambda p: _zip(p, [*_good_files(), ("noir/README", b"hi")]), "file type '(none)'"),
    "nested folder": (lambda p: _zip(p, [*_good_files(), ("noir/sub/a.png", b"")]), "folders inside"),
    "two tops": (lambda p: _zip(p, [*_good_files(), ("other/a.png", b"")]), "entries must all be in one"),
    "no template.json": (lambda p: _zip(p, _good_files()[1:]), "no template.json"),
    "two template.json": (
        lambda p: _zip(p, [*_good_files(), ("noir/template.json", b"{}")]),
        "a second template.json",
    ),
    "case duplicate": (
        lambda p: _zip(p, [*_good_files(), ("noir/REF0.png", b"")]),
        "a second REF0.png",
    ),
    "broken json": (
        lambda p: _zip(p, [("noir/template.json", b"{oops"), *_good_files()[1:]]),
        "entry 'noir/template.json': template.json is not valid JSON",
    ),
    "invalid field": (
        lambda p: _zip(p, [("noir/template.json", b'{"id": "noir", "name": "N", "realism": 5}')]),
        "entry 'noir/template.json': field realism: must be 1.0 or less, not 5",
    ),
    "bad id": (
        lambda p: _zip(p, [("noir/template.json", b'{"id": "../up", "name": "N"}')]),
        "field id: String should match pattern",
    ),
    "oversized (declared)": (
        lambda p: _zip(p, [*_good_files(), ("noir/big.png", bytes(_BIG))], compression=zipfile.ZIP_STORED),
        f"{_BIG} bytes uncompressed, at most {32 << 20} allowed",
    ),
    "oversized (actual)": (
        lambda p: _patch_sizes(
            _zip(p, [*_good_files(), ("noir/big.png", bytes(_BIG))], compression=zipfile.ZIP_STORED),
            "noir/big.png",
            1000,
        ),
        "entry 'noir/big.png': corrupt",
    ),
    "zip bomb": (lambda p: _zip(p, [*_good_files(), ("noir/bomb.png", bytes(8 << 20))]), "a zip bomb?"),
    "too many entries": (
        lambda p: _zip(p, [*_good_files(), *((f"noir/f{i}.png", b"") for i in range(62))]),
        "65 entries, at most 64 allowed",
    ),
    "not a zip": (lambda p: (p.write_bytes(b"PK\x03\x04 definitely not a zip" * 40), p)[1], "not a zip file"),
    "corrupt data": (lambda p: _corrupt_data(_zip(p, _good_files())), "entry 'noir/ref0.png': corrupt"),
    "named file missing": (
        lambda p: _zip(p, [_good_files()[0], _good_files()[2]]),
        "template noir: ref0.png is named in template.json but missing",
    ),
    "image that does not decode": (
        lambda p: _zip(p, [*_good_files()[::2], ("noir/ref0.png", b"not a png")]),
        "template noir: ref0.png: not an image",
    ),
    "image bomb": (
        lambda p: _zip(p, [*_good_files()[::2], ("noir/ref0.png", _png_declaring(100_000, 100_000))]),
        "template noir: ref0.png: image is 100000x100000, too large",
    ),
    "bad lut": (
        lambda p: _zip(p, [*_good_files()[:2], ("noir/look.cube", b"LUT_3D_SIZE 2\n0 0 0\n")]),
        "template noir: look.cube, line 2: file ends after 1 table rows",
    ),
}


@pytest.mark.parametrize("case", list(_CASES))
def test_a_bad_bundle_is_refused_and_leaves_nothing_behind(
    library: TemplateLibrary, tmp_path: Path, case: str
) -> None:
    make, expected = _CASES[case]
    bundle = make(tmp_path / "bad.zip")
    before = listing(library.user_dir.parent)
    with pytest.raises(InputError) as error:
        import_bundle(bundle, library)
    message = str(error.value)
    assert message.startswith(f"{bundle}: ") and "\n" not in message, message
    assert expected in message, message
    assert listing(library.user_dir.parent) == before


def test_the_total_size_is_limited(
    library: TemplateLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_module, "MAX_TOTAL_BYTES", 100)
    bundle = _zip(
        tmp_path / "big.zip", [*_good_files(), ("noir/thumbnail.png", png_bytes((1, 2, 3), (64, 64)))]
    )
    before = listing(library.user_dir.parent)
    with pytest.raises(InputError, match="the bundle holds over 100 bytes uncompressed"):
        import_bundle(bundle, library)
    assert listing(library.user_dir.parent) == before


def test_root_level_entries_are_a_valid_bundle(library: TemplateLibrary, tmp_path: Path) -> None:
    entry = import_bundle(_zip(tmp_path / "flat.zip", _good_files(top="")), library)
    assert entry.template.id == "noir" and entry.folder == library.user_dir / "noir"
    assert sorted(path.name for path in entry.folder.iterdir()) == ["look.cube", "ref0.png", "template.json"]


def test_export_then_import_gives_the_same_template_and_files(
    library: TemplateLibrary, tmp_path: Path
) -> None:
    source = TemplateLibrary(builtin_dir=tmp_path / "source-builtin", user_dir=tmp_path / "source")
    write_template(source.builtin_dir / "noir", lut=True, references=2, name="Noir", tags=["dark"], version=4)
    bundle = export_bundle("noir", source, tmp_path / "noir.zip")
    with zipfile.ZipFile(bundle) as archive:
        names = sorted(archive.namelist())
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    assert names == [
        f"noir/{name}" for name in ("look.cube", "ref0.png", "ref1.png", "template.json", "thumbnail.png")
    ]
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temp file left

    imported = import_bundle(bundle, library)
    assert not imported.builtin and imported.template == source.get("noir").template
    original = source.builtin_dir / "noir"
    assert listing(imported.folder) == listing(original)
    for name in listing(original):
        assert (imported.folder / name).read_bytes() == (original / name).read_bytes(), name
    assert library.get("noir").template.version == 4


def test_an_installed_id_needs_replace_and_never_goes_back_a_version(
    library: TemplateLibrary, tmp_path: Path
) -> None:
    source = TemplateLibrary(builtin_dir=tmp_path / "none", user_dir=tmp_path / "source")
    write_template(source.user_dir / "kept", name="Kept v3", version=3)
    v3 = export_bundle("kept", source, tmp_path / "v3.zip")
    with pytest.raises(InputError, match=r"'kept' is installed already \(version 1\); choose to replace"):
        import_bundle(v3, library)
    assert library.get("kept").template.version == 1
    assert import_bundle(v3, library, replace=True).template.version == 3
    assert library.get("kept").template.name == "Kept v3"

    older = tmp_path / "older"
    write_template(older / "kept", name="Kept v2", version=2)
    v2 = export_bundle(
        "kept", TemplateLibrary(builtin_dir=older, user_dir=tmp_path / "x"), tmp_path / "v2.zip"
    )
    before = listing(library.user_dir.parent)
    with pytest.raises(InputError, match="version 2 is older than the installed version 3"):
        import_bundle(v2, library, replace=True)
    assert listing(library.user_dir.parent) == before


def test_a_bundle_may_update_a_built_in_by_shadowing_it(library: TemplateLibrary, tmp_path: Path) -> None:
    write_template(library.builtin_dir / "noir", name="Noir")
    newer = tmp_path / "newer"
    write_template(newer / "noir", name="Noir", version=2, references=1)
    bundle = export_bundle(
        "noir", TemplateLibrary(builtin_dir=newer, user_dir=tmp_path / "x"), tmp_path / "n.zip"
    )
    with pytest.raises(InputError, match="installed already"):
        import_bundle(bundle, library)
    entry = import_bundle(bundle, library, replace=True)
    assert library.get("noir") == entry and entry.template.version == 2 and not entry.builtin
    assert load_template_folder(library.builtin_dir / "noir").version == 1  # the built-in is untouched


def test_export_refuses_a_missing_folder_and_unknown_ids(library: TemplateLibrary, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder does not exist"):
        export_bundle("kept", library, tmp_path / "missing" / "kept.zip")
    with pytest.raises(InputError, match="no template 'nope'"):
        export_bundle("nope", library, tmp_path / "nope.zip")
    with pytest.raises(InputError, match="no such file"):
        import_bundle(tmp_path / "absent.zip", library)


# -- nothing is written outside the test's folder ----------------------------------------------------------

_WRITES: list[str] | None = None
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _where(path: Any, dir_fd: Any = None) -> str | None:
    """The absolute path an audited call names (relative to `dir_fd` when one is given, as rmtree does)."""
    if not isinstance(path, str | bytes | os.PathLike):
        return None
    text = os.fsdecode(path)
    if isinstance(dir_fd, int) and not os.path.isabs(text):
        text = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), text)
    return os.path.abspath(text)


def _record_writes(event: str, args: tuple[Any, ...]) -> None:
    if _WRITES is None:
        return
    targets: list[str | None] = []
    if event == "open":
        path, mode, flags = args
        if any(char in mode for char in "wax+") if isinstance(mode, str) else bool(flags & _WRITE_FLAGS):
            targets.append(_where(path))
    elif event == "os.mkdir":
        targets.append(_where(args[0], args[2]))
    elif event == "os.rename":
        targets += [_where(args[0], args[2]), _where(args[1], args[3])]
    elif event in ("os.remove", "os.rmdir", "shutil.rmtree"):
        targets.append(_where(args[0], args[1]))
    elif event == "shutil.copyfile":
        targets.append(_where(args[1]))
    _WRITES.extend(target for target in targets if target is not None)


_hook_installed = False


@contextmanager
def _writes() -> Iterator[list[str]]:
    """Every path the code in the block writes, creates, renames or removes (through Python's audit hooks)."""
    global _WRITES, _hook_installed
    if not _hook_installed:
        sys.addaudithook(_record_writes)  # audit hooks cannot be removed: it stays idle outside the block
        _hook_installed = True
    _WRITES = []
    try:
        yield _WRITES
    finally:
        _WRITES = None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="resolves rmtree's dir_fd through /proc")
def test_import_and_export_write_nothing_outside_the_test_folder(
    library: TemplateLibrary, tmp_path: Path
) -> None:
    write_template(library.user_dir / "noir", lut=True, references=1)
    bad = _zip(
        tmp_path / "bad.zip", [_good_files()[0], *_good_files()[2:], ("noir/ref0.png", b"not an image")]
    )
    with _writes() as written:
        bundle = export_bundle("noir", library, tmp_path / "noir.zip")
        library.delete("noir")
        import_bundle(bundle, library)
        with pytest.raises(InputError):
            import_bundle(bad, library, replace=True)
    assert written, "the audit hook saw nothing"
    root = tmp_path.resolve()
    outside = [path for path in written if not Path(path).resolve().is_relative_to(root)]
    assert outside == []
    assert library.get("noir").template.lut == "look.cube"


def test_a_truncated_download_is_refused_as_corrupt(library: TemplateLibrary, tmp_path: Path) -> None:
    # A truncated download: the central directory at the end is gone.
    whole = io.BytesIO()
    with zipfile.ZipFile(whole, "w") as archive:
        for name, data in _good_files():
            archive.writestr(str(name), data)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(whole.getvalue()[:-30])
    with pytest.raises(InputError, match=r"truncated\.zip: not a zip file or corrupt"):
        import_bundle(truncated, library)
