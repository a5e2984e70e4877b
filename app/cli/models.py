"""`storybeat models`: register local diffusers model folders, list and remove them, or pull one from the Hub.

`app.cli.main` adds the parser (`add_models_parser`) and dispatches to `cmd_models`; the error conventions are
its own (InputError → exit 2 with one line, other StorybeatError → exit 1). The registry and torch are
imported only when the command runs, so `storybeat --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import InputError

if TYPE_CHECKING:
    from app.engine.models.registry import ModelEntry, ModelRegistry


def add_models_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `models` command and its sub-commands (add, list, remove, pull) to the top-level parser."""
    models = subparsers.add_parser("models", help="register diffusers models (local folders or Hub pulls)")
    # The same parser class as the top level, so sub-command usage errors are one line too.
    actions = models.add_subparsers(dest="models_command", required=True, parser_class=type(models))

    add = actions.add_parser("add", help="register a local diffusers model folder under a name")
    add.add_argument("name", help="name to use in projects: 1-64 of a-z 0-9 . _ - (not 'motion')")
    add.add_argument("path", type=Path, help="the folder holding model_index.json")

    listing = actions.add_parser("list", help="the registered models")

    remove = actions.add_parser("remove", help="forget a registered model (its folder is kept)")
    remove.add_argument("name")

    pull = actions.add_parser("pull", help="download a diffusers model from the Hugging Face Hub and add it")
    pull.add_argument("repo_id", help="Hub repository, e.g. stabilityai/stable-video-diffusion-img2vid")
    pull.add_argument("--name", help="name to register it under (default: the repository's name)")

    for command in (add, listing, remove, pull):
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
    entry = registry.remove(args.name)
    if args.json:
        print(json.dumps({"removed": entry.name, "path": str(entry.path)}))
    else:
        print(f"removed {entry.name} (its folder {entry.path} was kept)")


def _pull(registry: ModelRegistry, args: argparse.Namespace) -> None:
    from app.cli.common import progress_bar

    with progress_bar(f"Pulling {args.repo_id}", args.json) as progress:
        entry = registry.pull(args.repo_id, args.name, progress)
    _report(entry, args, "pulled")


def _report(entry: ModelEntry, args: argparse.Namespace, verb: str) -> None:
    if args.json:
        print(json.dumps(describe(entry)))
    else:
        print(f"{verb} {_line(entry)}")


def cmd_models(args: argparse.Namespace) -> int:
    """Run `storybeat models <sub-command>`; returns the exit status (errors are raised for app.cli.main)."""
    from app.cli.common import EXIT_OK
    from app.engine.models.registry import ModelRegistry

    actions = {"list": _list, "add": _add, "remove": _remove, "pull": _pull}
    actions[args.models_command](ModelRegistry(), args)
    return EXIT_OK
