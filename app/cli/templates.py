"""`storybeat templates`: list and show the template library, import and export .zip bundles.

`app.cli.main` adds the parser (`add_templates_parser`) and runs `cmd_templates`; the error conventions
are its own (InputError → exit 2 with one line, other StorybeatError → exit 1). The library (and cv2) is
imported only when the command runs, so `storybeat --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.engine.templates.library import LibraryTemplate, TemplateLibrary


def add_templates_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `templates` command and its sub-commands (list, show, import, export) to the top level."""
    templates = subparsers.add_parser("templates", help="the template library: list, show, import, export")
    # The same parser class as the top level, so sub-command usage errors are one line too.
    actions = templates.add_subparsers(dest="templates_command", required=True, parser_class=type(templates))

    listing = actions.add_parser("list", help="built-in and user templates, by name")
    listing.add_argument(
        "--search", default="", help="only those whose name, description, tags or style match"
    )
    listing.add_argument(
        "--tag", action="append", default=[], help="only those with this tag; repeat to require several"
    )

    show = actions.add_parser("show", help="one template's settings")
    show.add_argument("id", help="template id (see `storybeat templates list`)")

    importing = actions.add_parser("import", help="install a template bundle (.zip) into the user library")
    importing.add_argument("zip", type=Path, help="the bundle to import")
    importing.add_argument(
        "--replace",
        action="store_true",
        help="replace an installed template of that id (not by an older one)",
    )

    export = actions.add_parser("export", help="write a template as a bundle (.zip)")
    export.add_argument("id", help="template id")
    export.add_argument("zip", type=Path, help="the .zip file to write")

    for command in (listing, show, importing, export):
        command.add_argument("--json", action="store_true", help="print JSON")


def describe(entry: LibraryTemplate) -> dict[str, Any]:
    """A template as `templates list --json` prints it."""
    template = entry.template
    thumbnail = entry.thumbnail_path
    return {
        "id": template.id,
        "name": template.name,
        "version": template.version,
        "tags": list(template.tags),
        "description": template.description,
        "thumbnail": str(thumbnail) if thumbnail is not None else None,
        "builtin": entry.builtin,
        "folder": str(entry.folder),
    }


def _line(entry: LibraryTemplate) -> str:
    template = entry.template
    tags = f"  [{', '.join(template.tags)}]" if template.tags else ""
    origin = "  (built-in)" if entry.builtin else ""
    return f"{template.id}: {template.name} v{template.version}{tags}{origin}"


def _list(library: TemplateLibrary, args: argparse.Namespace) -> None:
    entries = library.search(args.search, args.tag)
    for problem in library.problems:
        print(f"storybeat: warning: skipped {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([describe(entry) for entry in entries]))
    elif not entries:
        print("no templates match" if args.search or args.tag else "no templates found")
    else:
        for entry in entries:
            print(_line(entry))


def _settings(values: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in values.items())


def _show(library: TemplateLibrary, args: argparse.Namespace) -> None:
    entry = library.get(args.id)
    template = entry.template
    if args.json:
        print(json.dumps({**describe(entry), "template": template.model_dump(mode="json")}))
        return
    data = template.model_dump(mode="json")
    lines = [
        _line(entry),
        f"  folder: {entry.folder}",
        f"  description: {template.description or '-'}",
        f"  style prompt: {template.style_prompt or '-'}",
        f"  negative prompt: {template.negative_prompt or '-'}",
        f"  realism: {template.realism}",
        f"  motion: {_settings(data['motion'])}",
        f"  interpolation: {_settings(data['interpolation'])}",
        f"  pacing: preset={template.pacing.preset or '-'} {_settings(data['pacing']['transition'])}",
        f"  grade: {_settings(data['grade'])} lut={template.lut or '-'}",
        f"  backends: {_settings(data['backends'])}",
        f"  references: {', '.join(template.references) or '-'}",
    ]
    print("\n".join(lines))


def _import(library: TemplateLibrary, args: argparse.Namespace) -> None:
    from app.engine.templates.bundle import import_bundle

    entry = import_bundle(args.zip, library, replace=args.replace)
    if args.json:
        print(json.dumps(describe(entry)))
    else:
        print(f"imported {_line(entry)} into {entry.folder}")


def _export(library: TemplateLibrary, args: argparse.Namespace) -> None:
    from app.engine.templates.bundle import export_bundle

    template = library.get(args.id).template
    written = export_bundle(args.id, library, args.zip)
    if args.json:
        print(json.dumps({"id": template.id, "version": template.version, "output": str(written)}))
    else:
        print(f"exported {template.id} v{template.version} to {written}")


def cmd_templates(args: argparse.Namespace) -> int:
    """Run `storybeat templates <sub-command>`; returns the exit status (errors go up to app.cli.main)."""
    from app.cli.common import EXIT_OK
    from app.engine.templates.library import TemplateLibrary

    actions = {"list": _list, "show": _show, "import": _import, "export": _export}
    actions[args.templates_command](TemplateLibrary(), args)
    return EXIT_OK
