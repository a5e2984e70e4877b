"""`storybeat models`: the model manager on the command line — the curated catalog and models found on disk
with how they fit this machine, pulls that show bytes, speed and time left and resume after a failure or
Ctrl+C, and registering, renaming and removing models.

`app.cli.main` adds the parser (`add_models_parser`) and runs `cmd_models`; errors go up to it (InputError →
exit 2 with one line, other StorybeatError → exit 1). The engine is imported only when a sub-command runs,
so `storybeat --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import EXIT_OK, progress_bytes
from app.errors import Cancelled, InputError

if TYPE_CHECKING:
    from app.engine.models.manager import ModelRow
    from app.engine.models.pull import PullEvents
    from app.engine.models.registry import ModelEntry, ModelRegistry


def add_models_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `models` command and its sub-commands to the top-level parser."""
    models = subparsers.add_parser("models", help="the model manager: catalog, downloads, registered models")
    # The same parser class as the top level, so sub-command usage errors are one line too.
    actions = models.add_subparsers(dest="models_command", required=True, parser_class=type(models))

    add = actions.add_parser("add", help="register a local diffusers model folder under a name")
    add.add_argument("name", help="name to use in projects: 1-64 of a-z 0-9 . _ - (not 'motion')")
    add.add_argument(
        "path", type=Path, help="the folder holding model_index.json (a Hugging Face cache snapshot works)"
    )

    listing = actions.add_parser("list", help="the registered models, with how they fit this machine")

    catalog = actions.add_parser("catalog", help="the curated models: size, licence, fit on this machine")

    found = actions.add_parser("found", help="models on disk that could be registered (Hugging Face cache)")
    found.add_argument(
        "--folder", type=Path, action="append", default=[], help="also look in this folder; repeatable"
    )

    remove = actions.add_parser("remove", help="forget a registered model (its folder is kept unless asked)")
    remove.add_argument("name")
    remove.add_argument(
        "--delete-files",
        action="store_true",
        help="also delete its folder (only for models downloaded into Storybeat's models folder)",
    )

    rename = actions.add_parser("rename", help="register a model under another name")
    rename.add_argument("name")
    rename.add_argument("new_name")

    pull = actions.add_parser(
        "pull", help="download a catalog model or a Hub repository and register it (resumes a stopped pull)"
    )
    pull.add_argument(
        "repo_id", help="a catalog id (see `models catalog`) or a Hub repository such as owner/model-name"
    )
    pull.add_argument("--name", help="name to register it under (default: the catalog id or repository name)")
    pull.add_argument(
        "--revision", help="a commit or branch (default: the catalog's pinned commit, else main)"
    )
    pull.add_argument("--variant", help="weight files to fetch, e.g. fp16 (default: the catalog's choice)")

    for command in (add, listing, catalog, found, remove, rename, pull):
        command.add_argument("--json", action="store_true", help="print JSON, no progress bar")


def describe(entry: ModelEntry) -> dict[str, Any]:
    """A registered model as `models list --json` prints it."""
    from app.engine.models.catalog import tasks_of

    try:
        spec = entry.spec()
    except InputError:  # registered by a version that allowed a class this one does not
        family, tasks = None, []
    else:
        family, tasks = spec.family.value, sorted(task.value for task in tasks_of(spec))
    return {
        "name": entry.name,
        "path": str(entry.path),
        "pipeline": entry.pipeline,
        "family": family,
        "tasks": tasks,
        "revision": entry.revision,
        "available": entry.path.is_dir(),
    }


def _line(entry: ModelEntry) -> str:
    info = describe(entry)
    missing = "" if info["available"] else "  (folder missing)"
    tasks = ", ".join(info["tasks"]) or "unsupported"
    return f"{entry.name}: {entry.pipeline} ({tasks}) at {entry.path}{missing}"


def _list(registry: ModelRegistry, args: argparse.Namespace) -> None:
    entries = registry.entries()
    if args.json:
        print(json.dumps([describe(entry) for entry in entries]))
    elif not entries:
        print(
            "no models registered (use `storybeat models add NAME FOLDER` or `storybeat models pull REPO_ID`)"
        )
    else:
        for entry in entries:
            print(_line(entry))


def _add(registry: ModelRegistry, args: argparse.Namespace) -> None:
    _report(registry.add(args.name, args.path), args, "registered")


def _remove(registry: ModelRegistry, args: argparse.Namespace) -> None:
    entry = registry.find(args.name)
    if entry is not None and args.delete_files:
        inside = entry.path.resolve().is_relative_to(registry.models_dir.resolve())
        if not inside:
            raise InputError(
                f"{entry.path} is not in Storybeat's models folder ({registry.models_dir}); "
                "remove without --delete-files and delete it yourself"
            )
    entry = registry.remove(args.name)
    deleted = False
    if args.delete_files and entry.path.exists():
        shutil.rmtree(entry.path)
        deleted = True
    if args.json:
        print(json.dumps({"removed": entry.name, "path": str(entry.path), "deleted": deleted}))
    elif deleted:
        print(f"removed {entry.name} and deleted {entry.path}")
    else:
        print(f"removed {entry.name} (its folder {entry.path} was kept)")


def _rename(registry: ModelRegistry, args: argparse.Namespace) -> None:
    _report(registry.rename(args.name, args.new_name), args, "renamed to")


def _fit_text(row: ModelRow) -> str:
    return row.fit.badge if row.fit is not None else "fit unknown"


def _row_json(row: ModelRow) -> dict[str, Any]:
    fit = row.fit
    return {
        "kind": row.kind,
        "name": row.name,
        "title": row.title,
        "pipeline": row.pipeline,
        "tasks": list(row.tasks),
        "size_bytes": row.size_bytes,
        "license": row.license,
        "gated": row.gated,
        "fit": None if fit is None else {"level": fit.level.value, "badge": fit.badge, "detail": fit.detail},
        "path": None if row.path is None else str(row.path),
        "registered_as": row.registered_as,
        "partial_bytes": row.partial_bytes,
        "notes": row.notes,
    }


def _gb(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e9:.1f} GB"


def _catalog(registry: ModelRegistry, args: argparse.Namespace) -> None:
    from app.engine.models.fit import detect_gpu
    from app.engine.models.manager import catalog_rows

    rows = catalog_rows(registry, detect_gpu())
    if args.json:
        print(json.dumps([_row_json(row) for row in rows]))
        return
    for row in rows:
        state = f"registered as {row.registered_as}" if row.registered_as else ""
        if row.partial_bytes:
            state = f"{_gb(row.partial_bytes)} downloaded: pull again to resume"
        gated = ", gated" if row.gated else ""
        print(
            f"{row.name}: {row.title} ({', '.join(row.tasks)}), {_gb(row.size_bytes)}, "
            f"{row.license}{gated} — {_fit_text(row)}" + (f" — {state}" if state else "")
        )


def _found(registry: ModelRegistry, args: argparse.Namespace) -> None:
    from app.engine.models.fit import detect_gpu
    from app.engine.models.manager import found_rows

    warnings: list[str] = []
    rows = found_rows(registry, detect_gpu(), args.folder, warnings=warnings)
    if args.json:
        print(json.dumps({"models": [_row_json(row) for row in rows], "warnings": warnings}))
        return
    for warning in warnings:
        print(f"storybeat: warning: {warning}", file=sys.stderr)
    if not rows:
        where = " or the given folders" if args.folder else ""
        print(f"no diffusers models found in the Hugging Face cache{where}")
    for row in rows:
        state = f"registered as {row.registered_as}" if row.registered_as else "not registered"
        why = f" — {row.notes}" if row.notes else ""
        print(f"{row.title}: {row.pipeline}, {_gb(row.size_bytes)} at {row.path} — {state}{why}")


def _pull(registry: ModelRegistry, args: argparse.Namespace) -> None:
    from app.engine.models.curated import load_catalog
    from app.engine.models.pull import make_request, partial_bytes, run_pull

    catalog = load_catalog()
    curated = catalog.find(args.repo_id) if args.repo_id in catalog.ids else None
    if curated is not None:
        request = make_request(
            registry,
            curated.repo_id,
            args.name or curated.id,
            args.revision or curated.revision,
            args.variant or curated.variant,
        )
    else:
        request = make_request(registry, args.repo_id, args.name, args.revision, args.variant)
    resumed = partial_bytes(registry, request.name)
    with progress_bytes(f"Pulling {request.repo_id}", args.json) as update:
        announced = False

        def on_event(events: PullEvents) -> None:
            nonlocal announced
            if events.total is not None and not announced and not args.json:
                announced = True
                licence = f", licence {events.license}" if events.license else ""
                again = f" (resuming: {_gb(resumed)} already here)" if resumed else ""
                print(f"{request.repo_id}: {_gb(events.total)}{licence}{again}", file=sys.stderr)
            update(events.done, events.total)

        try:
            entry = run_pull(registry, request, on_event)
        except KeyboardInterrupt:
            kept = partial_bytes(registry, request.name)
            raise Cancelled(f"cancelled; {_gb(kept)} kept — run the same command again to resume") from None
    _report(entry, args, "pulled")


def _report(entry: ModelEntry, args: argparse.Namespace, verb: str) -> None:
    if args.json:
        print(json.dumps(describe(entry)))
    else:
        print(f"{verb} {_line(entry)}")


def cmd_models(args: argparse.Namespace) -> int:
    """Run `storybeat models <sub-command>`; returns the exit status (errors are raised for app.cli.main)."""
    from app.engine.models.registry import ModelRegistry

    actions = {
        "list": _list,
        "catalog": _catalog,
        "found": _found,
        "add": _add,
        "remove": _remove,
        "rename": _rename,
        "pull": _pull,
    }
    actions[args.models_command](ModelRegistry(), args)
    return EXIT_OK
