"""The command line (DESIGN.md "CLI contract").

Exit status: 0 success, 2 bad input or usage (one line on stderr naming the file or field, no traceback),
1 failure while working. Long commands show a progress bar on a terminal and stay quiet with --json.
Heavy modules (librosa, av, cv2) are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from app.cli import check, desktop, models, project, templates
from app.cli.common import EXIT_FAILED, EXIT_USAGE, Parser, UsageError, version
from app.errors import Cancelled, InputError, StorybeatError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="storybeat", description="Timeline editor for AI image-to-video work.")
    parser.add_argument("--version", action="version", version=version())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    project.add_project_parsers(commands)
    check.add_check_parser(commands)
    models.add_models_parser(commands)
    templates.add_templates_parser(commands)
    desktop.add_desktop_parser(commands)
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "new": project.cmd_new,
    "beats": project.cmd_beats,
    "render": project.cmd_render,
    "demo": project.cmd_demo,
    "check": check.cmd_check,
    "models": models.cmd_models,
    "templates": templates.cmd_templates,
    "desktop": desktop.cmd_desktop,
}


def build_editor_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="storybeat", description="Open the editor (commands: see 'storybeat --help').")
    parser.add_argument("project", type=Path, nargs="?", help="a .storybeat project to open")
    parser.add_argument(
        "--screenshot", type=Path, help="write a PNG of the window once the drafts are ready, exit"
    )
    parser.add_argument("--at", type=float, help="with --screenshot: put the playhead here (seconds)")
    return parser


def run_editor(argv: Sequence[str]) -> int:
    from app.model.project_file import SUFFIX

    args = build_editor_parser().parse_args(list(argv))
    if args.project is not None and (args.project.suffix != SUFFIX or not args.project.is_file()):
        raise UsageError(f"{args.project}: not a {SUFFIX} project file")
    if args.screenshot is not None and not args.screenshot.parent.is_dir():
        raise UsageError(f"{args.screenshot.parent}: folder does not exist")
    if args.at is not None and (args.screenshot is None or not args.at >= 0):
        raise UsageError("--at needs --screenshot and a time >= 0 seconds")
    from app.ui.app import run_editor as show_editor

    return show_editor(args.project, args.screenshot, args.at)


def run(argv: Sequence[str]) -> int:
    """Run one command (or the editor); returns the exit status. Errors are printed as one line on stderr."""
    try:
        first = argv[0] if argv else ""
        if first in COMMANDS or first in ("-h", "--help", "--version"):
            args = build_parser().parse_args(list(argv))
            return COMMANDS[args.command](args)
        if first and not first.startswith("-") and not first.endswith(".storybeat"):
            raise UsageError(f"unknown command {first!r} (see 'storybeat --help')")
        return run_editor(argv)
    except Cancelled as error:
        print(f"storybeat: {error or 'cancelled'}", file=sys.stderr)
        return EXIT_FAILED
    except InputError as error:
        print(f"storybeat: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StorybeatError as error:
        print(f"storybeat: failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:  # the disk or the OS refused: say which file, without a traceback
        where = f"{error.filename}: " if error.filename else ""
        print(f"storybeat: failed: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("storybeat: interrupted", file=sys.stderr)
        return 130
