"""The command line (DESIGN.md "CLI contract").

Exit status: 0 success, 2 bad input or usage (one line on stderr naming the file or field, no traceback),
1 failure while working. Long commands show a progress bar on a terminal and stay quiet with --json.
Heavy modules (librosa, av, cv2) are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import NoReturn

from app.errors import Cancelled, InputError, StorybeatError
from app.model.timebase import parse_fps

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEMO_DIR = Path(__file__).resolve().parent.parent / "resources" / "demo"
DEMO_PROJECT = DEMO_DIR / "demo.storybeat"

_MAX_W, _MAX_H = 7680, 4320


class UsageError(InputError):
    """The command line itself is wrong."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage dump: the contract is "one clear line naming the problem".
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _fps(text: str) -> Fraction:
    try:
        return parse_fps(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= width <= _MAX_W and 16 <= height <= _MAX_H):
        raise argparse.ArgumentTypeError(f"size {text} is outside 16x16..{_MAX_W}x{_MAX_H}")
    if width % 2 or height % 2:
        raise argparse.ArgumentTypeError(
            f"size {text} must have even width and height (video encoders need it)"
        )
    return width, height


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"{value} is outside 1..1024")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="storybeat", description="Timeline editor for AI image-to-video work.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    new = commands.add_parser("new", help="build a project: one act per image (or prompt), cuts on beats")
    new.add_argument("project", type=Path, help="the .storybeat file to create")
    new.add_argument("--audio", type=Path, required=True, help="music file (wav, mp3, flac, ogg, m4a)")
    new.add_argument(
        "--image", type=Path, action="append", default=[], help="reference image; repeat per act"
    )
    new.add_argument(
        "--prompt", action="append", default=[], help="prompt; repeat per act (paired with images)"
    )
    new.add_argument("--fps", type=_fps, default=Fraction(24), help="frame rate, e.g. 24, 25, 30000/1001")
    new.add_argument(
        "--size", type=_size, default=(1280, 720), help="frame size WIDTHxHEIGHT (default 1280x720)"
    )
    new.add_argument("--beats-per-act", type=_positive, default=8, help="beats per act (default 8)")
    new.add_argument(
        "--pacing",
        help="re-cut with a preset over the whole song: structure, downbeats[:bars=N], every-N-beats",
    )
    new.add_argument(
        "--template",
        metavar="ID",
        help="apply this library template to every act (and its pacing preset, unless --pacing is given)",
    )
    new.add_argument("--force", action="store_true", help="overwrite an existing project file")
    new.add_argument("--json", action="store_true", help="print a JSON summary")

    beats = commands.add_parser("beats", help="tempo, beats and downbeats of a music file")
    beats.add_argument("audio", type=Path)
    beats.add_argument("--json", action="store_true", help='print {"tempo", "beats", "downbeats"} (seconds)')
    beats.add_argument(
        "--sections", action="store_true", help='add "sections": [{start, end, label, energy}]'
    )
    beats.add_argument("--onsets", action="store_true", help='add "onsets": [s...]')

    render = commands.add_parser("render", help="render a project to a video file (or a PNG folder)")
    render.add_argument("project", type=Path)
    render.add_argument("-o", "--output", type=Path, required=True)
    render.add_argument("--draft", action="store_true", help="fast low-resolution draft")
    render.add_argument("--backend", help="render every act with this backend (default: each act's own)")
    render.add_argument(
        "--format", choices=["mp4", "h265", "mov", "png"], help="mp4 (H.264), h265, mov (ProRes) or png"
    )
    render.add_argument("--json", action="store_true", help="print a JSON summary, no progress bar")

    demo = commands.add_parser("demo", help="render the bundled demo project")
    demo.add_argument("-o", "--output", type=Path, default=Path("storybeat-demo.mp4"))
    demo.add_argument("--draft", action="store_true", help="fast low-resolution draft")
    demo.add_argument("--json", action="store_true", help="print a JSON summary, no progress bar")

    from app.cli_check import add_check_parser
    from app.cli_models import add_models_parser
    from app.cli_templates import add_templates_parser

    add_check_parser(commands)
    add_models_parser(commands)
    add_templates_parser(commands)
    return parser


def _version() -> str:
    import app

    return f"storybeat {app.__version__}"


# -- progress --------------------------------------------------------------------------------


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal; nothing when quiet or when stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "json", False):
        print(text)


# -- commands --------------------------------------------------------------------------------


def cmd_beats(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from app.engine.audio.beats import analyze_beats

    analysis = analyze_beats(args.audio)
    if args.json:
        report: dict[str, object] = {
            "tempo": analysis.tempo,
            "beats": list(analysis.beats),
            "downbeats": list(analysis.downbeats),
        }
        if args.sections:
            report["sections"] = [asdict(section) for section in analysis.sections]
        if args.onsets:
            report["onsets"] = list(analysis.onsets)
        print(json.dumps(report))
    else:
        print(
            f"{args.audio}: {analysis.tempo:.1f} BPM, "
            f"{len(analysis.beats)} beats, {len(analysis.downbeats)} bars of {analysis.meter}"
        )
        if args.sections:
            for section in analysis.sections:
                print(
                    f"  {section.label} {section.start:7.2f}–{section.end:7.2f} s"
                    f"  energy {section.energy:.2f}"
                )
        if args.onsets:
            print(f"  {len(analysis.onsets)} onsets")
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from app.engine.audio.beats import analyze_beats
    from app.engine.builder import act_sources, apply_pacing, build_project
    from app.engine.templates.library import TemplateLibrary, embed_template
    from app.model.pacing import parse_pacing
    from app.model.project_file import SUFFIX, save_project
    from app.model.template_commands import ApplyTemplate

    path: Path = args.project
    if path.suffix != SUFFIX:
        raise UsageError(f"{path}: project files end in {SUFFIX}")
    if path.exists() and not args.force:
        raise UsageError(f"{path}: already exists (use --force to overwrite; the old file is kept as .bak)")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: folder does not exist")
    sources = act_sources(args.image, args.prompt)
    # The template is looked up and the pacing checked before the slow analysis, so bad input fails fast.
    entry = TemplateLibrary().get(args.template) if args.template else None
    pacing = args.pacing or (entry.template.pacing.preset if entry is not None else None)
    if pacing:
        parse_pacing(pacing)
    beats = analyze_beats(args.audio)
    project = build_project(path, sources, args.audio, beats, args.fps, args.size, args.beats_per_act)
    if pacing:
        apply_pacing(project, pacing)
    if entry is not None:
        embedded = embed_template(entry, path.parent)
        ApplyTemplate([act.id for act in project.acts], embedded).apply(project)
    save_project(project, path)
    seconds = float(project.duration_frames / project.settings.fps)
    template = f"{entry.template.id} v{entry.template.version}" if entry is not None else None
    if args.json:
        summary = {"project": str(path), "acts": len(project.acts), "tempo": beats.tempo, "seconds": seconds}
        print(json.dumps({**summary, "pacing": pacing, "template": template}))
    else:
        cuts = f"pacing {pacing}" if pacing else f"cuts every {args.beats_per_act} beats"
        look = f", template {template}" if template else ""
        print(f"{path}: {len(project.acts)} acts, {seconds:.1f} s, {cuts} at {beats.tempo:.1f} BPM{look}")
    return EXIT_OK


def _render(args: argparse.Namespace, project_path: Path, backend: str | None, fmt: str | None) -> int:
    from app.engine.render import render_project
    from app.model.project_file import load_project

    project = load_project(project_path)
    fallbacks: list[str] = []
    with _progress("Rendering", args.json) as progress:
        written = render_project(
            project,
            project_path.parent,
            args.output,
            draft=args.draft,
            backend=backend,
            fmt=fmt,
            progress=progress,
            warn=fallbacks.append,
        )
    for warning in fallbacks:
        print(f"storybeat: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps({"output": str(written), "frames": project.duration_frames, "fallbacks": fallbacks}))
    else:
        print(f"wrote {written}")
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    fmt = (
        {"mp4": "h264", "h265": "h265", "mov": "prores", "png": "png"}.get(args.format)
        if args.format
        else None
    )
    return _render(args, args.project, args.backend, fmt)


def cmd_demo(args: argparse.Namespace) -> int:
    return _render(args, DEMO_PROJECT, None, None)


def cmd_check(args: argparse.Namespace) -> int:
    from app.cli_check import cmd_check as run_check

    return run_check(args)


def cmd_models(args: argparse.Namespace) -> int:
    from app.cli_models import cmd_models as run_models

    return run_models(args)


def cmd_templates(args: argparse.Namespace) -> int:
    from app.cli_templates import cmd_templates as run_templates

    return run_templates(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "new": cmd_new,
    "beats": cmd_beats,
    "render": cmd_render,
    "demo": cmd_demo,
    "check": cmd_check,
    "models": cmd_models,
    "templates": cmd_templates,
}


def build_editor_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="storybeat", description="Open the editor (commands: see 'storybeat --help').")
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
    except Cancelled:
        print("storybeat: cancelled", file=sys.stderr)
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
