"""`storybeat new | beats | render | demo`: build a project from music and images, analyse beats, render."""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

from app.cli.common import (
    DEMO_PROJECT,
    EXIT_OK,
    UsageError,
    fps_arg,
    positive_arg,
    progress_bar,
    size_arg,
)
from app.errors import InputError


def height_arg(text: str) -> int:
    """An export height: even (video encoders need it), 16..4320 pixels (as the project file allows)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"height {text!r} is not a whole number of pixels") from None
    if value % 2 or not 16 <= value <= 4320:
        raise argparse.ArgumentTypeError(f"height {value} must be an even number of pixels in 16..4320")
    return value


def crf_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"crf {text!r} is not a whole number") from None
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"crf {value} is outside 0..51 (lower is better quality)")
    return value


def add_project_parsers(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the `new`, `beats`, `render` and `demo` commands to the top-level parser."""
    new = commands.add_parser("new", help="build a project: one act per image (or prompt), cuts on beats")
    new.add_argument("project", type=Path, help="the .storybeat file to create")
    new.add_argument("--audio", type=Path, required=True, help="music file (wav, mp3, flac, ogg, m4a)")
    new.add_argument(
        "--image", type=Path, action="append", default=[], help="reference image; repeat per act"
    )
    new.add_argument(
        "--prompt", action="append", default=[], help="prompt; repeat per act (paired with images)"
    )
    new.add_argument("--fps", type=fps_arg, default=Fraction(24), help="frame rate, e.g. 24, 25, 30000/1001")
    new.add_argument(
        "--size", type=size_arg, default=(1280, 720), help="frame size WIDTHxHEIGHT (default 1280x720)"
    )
    new.add_argument("--beats-per-act", type=positive_arg, default=8, help="beats per act (default 8)")
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
    beats.add_argument(
        "--alternatives",
        action="store_true",
        help='add "alternatives": [{name, tempo, beats, downbeats, meter}]: the grid at half/double tempo',
    )

    render = commands.add_parser("render", help="render a project to a video file (or a PNG folder)")
    render.add_argument("project", type=Path)
    render.add_argument("-o", "--output", type=Path, required=True)
    render.add_argument("--draft", action="store_true", help="fast low-resolution draft")
    render.add_argument("--backend", help="render every act with this backend (default: each act's own)")
    render.add_argument(
        "--format", choices=["mp4", "h265", "mov", "png"], help="mp4 (H.264), h265, mov (ProRes) or png"
    )
    render.add_argument(
        "--range",
        choices=["whole", "in-out"],
        default="whole",
        help="whole film (default) or from the project's in point to its out point",
    )
    render.add_argument(
        "--height",
        type=height_arg,
        help="output height in pixels, even, 16..4320; the width follows (default: the project size)",
    )
    render.add_argument(
        "--crf", type=crf_arg, help="H.264/H.265 quality 0..51, lower is better (default 18, draft 23)"
    )
    render.add_argument("--json", action="store_true", help="print a JSON summary, no progress bar")

    demo = commands.add_parser("demo", help="render the bundled demo project")
    demo.add_argument("-o", "--output", type=Path, default=Path("storybeat-demo.mp4"))
    demo.add_argument("--draft", action="store_true", help="fast low-resolution draft")
    demo.add_argument("--json", action="store_true", help="print a JSON summary, no progress bar")


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
        if args.alternatives:
            report["alternatives"] = [asdict(level) for level in analysis.alternatives]
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
        if args.alternatives:
            for level in analysis.alternatives:
                print(f"  {level.name} tempo: {level.tempo:.1f} BPM, {len(level.beats)} beats")
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from app.engine.audio.beats import analyze_beats
    from app.engine.builder import act_sources, apply_pacing, build_project
    from app.engine.image_check import check_image
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
    # The images, the template and the pacing are checked before the slow analysis, so bad input fails fast.
    for image in args.image:
        check_image(image)
    entry = TemplateLibrary().get(args.template) if args.template else None
    pacing = args.pacing or (entry.template.pacing.preset if entry is not None else None)
    if pacing:
        parse_pacing(pacing)
    beats = analyze_beats(args.audio)
    project = build_project(path, sources, args.audio, beats, args.fps, args.size, args.beats_per_act)
    paced = apply_pacing(project, pacing) if pacing else None
    if entry is not None:
        embedded = embed_template(entry, path.parent)
        ApplyTemplate([act.id for act in project.acts], embedded).apply(project)
    save_project(project, path)
    seconds = float(project.duration_frames / project.settings.fps)
    template = f"{entry.template.id} v{entry.template.version}" if entry is not None else None
    if args.json:
        summary = {"project": str(path), "acts": len(project.acts), "tempo": beats.tempo, "seconds": seconds}
        pacing_report = {
            "pacing_summary": paced.summary if paced else None,
            "acts_needed": paced.acts_needed if paced else 0,
        }
        print(json.dumps({**summary, "pacing": pacing, **pacing_report, "template": template}))
    else:
        cuts = f"pacing {pacing}" if pacing else f"cuts every {args.beats_per_act} beats"
        look = f", template {template}" if template else ""
        print(f"{path}: {len(project.acts)} acts, {seconds:.1f} s, {cuts} at {beats.tempo:.1f} BPM{look}")
        if paced:
            print(paced.summary)
    return EXIT_OK


def _render(
    args: argparse.Namespace,
    project_path: Path,
    backend: str | None,
    fmt: str | None,
    in_out: bool = False,
    height: int | None = None,
    crf: int | None = None,
) -> int:
    from app.engine.render import render_project
    from app.model import ExportOptions, ExportRange
    from app.model.project_file import load_project
    from app.model.range_commands import export_frames

    project = load_project(project_path)
    chosen = ExportOptions(range=ExportRange.in_out if in_out else ExportRange.whole)
    try:
        frames = export_frames(project, chosen)
    except InputError as error:
        raise UsageError(f"{project_path}: --range in-out: {error}") from None
    fallbacks: list[str] = []
    with progress_bar("Rendering", args.json) as report:
        written = render_project(
            project,
            project_path.parent,
            args.output,
            draft=args.draft,
            backend=backend,
            fmt=fmt,
            frames=frames,
            height=height,
            crf=crf,
            progress=report,
            warn=fallbacks.append,
        )
    for warning in fallbacks:
        print(f"storybeat: warning: {warning}", file=sys.stderr)
    count = frames.length if frames is not None else project.duration_frames
    if args.json:
        print(json.dumps({"output": str(written), "frames": count, "fallbacks": fallbacks}))
    else:
        print(f"wrote {written}")
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    fmt = (
        {"mp4": "h264", "h265": "h265", "mov": "prores", "png": "png"}.get(args.format)
        if args.format
        else None
    )
    return _render(args, args.project, args.backend, fmt, args.range == "in-out", args.height, args.crf)


def cmd_demo(args: argparse.Namespace) -> int:
    return _render(args, DEMO_PROJECT, None, None)
