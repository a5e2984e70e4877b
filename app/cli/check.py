"""`storybeat check PROJECT|VIDEO [--audio FILE] [--json]`: the quality report of a project or any video.

A `.storybeat` file is checked through its draft proxies with its acts, beat grid and references; any other
file is decoded as a video whose cuts are detected and whose beats come from `--audio` (else its own audio
track). The exit status is 0 whenever the checks ran, whatever they found; bad input is exit 2 with one line.
`app.cli.main` adds the parser (`add_check_parser`) and dispatches to `cmd_check`; the engine is imported only
when the command runs, so `storybeat --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import InputError

if TYPE_CHECKING:
    from app.engine.qc import QCReport

PROJECT_SUFFIX = ".storybeat"


def add_check_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `check` command to the top-level parser."""
    check = subparsers.add_parser("check", help="quality report of a project or a video file")
    check.add_argument(
        "input", type=Path, metavar="PROJECT|VIDEO", help="a .storybeat project or a video file"
    )
    check.add_argument(
        "--audio", type=Path, metavar="FILE", help="music for a video's beats (default: its own audio track)"
    )
    check.add_argument(
        "--json", action="store_true", help='print {"ok", "findings", "metrics"}, no progress bar'
    )


def cmd_check(args: argparse.Namespace) -> int:
    """Run `storybeat check`; returns the exit status (errors are raised for app.cli.main)."""
    from app.cli.common import EXIT_OK, progress_bar
    from app.engine.qc import qc_input_from_project, qc_input_from_video, run_checks

    source: Path = args.input
    if not source.is_file():
        raise InputError(f"{source}: no such file (expected a {PROJECT_SUFFIX} project or a video)")
    is_project = source.suffix == PROJECT_SUFFIX
    if args.audio is not None and is_project:
        raise InputError("--audio is for videos: a project is checked against its own music")
    if args.audio is not None and not args.audio.is_file():
        raise InputError(f"{args.audio}: no such audio file")
    with progress_bar("Reading", args.json) as progress:
        if is_project:
            from app.model.project_file import load_project

            qc = qc_input_from_project(load_project(source), source.parent, progress=progress)
        else:
            qc = qc_input_from_video(source, args.audio, progress=progress)
    with progress_bar("Checking", args.json) as progress:
        report = run_checks(qc, progress=progress)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        _print_report(source, report)
    return EXIT_OK


def _print_report(source: Path, report: QCReport) -> None:
    for finding in report.findings:
        where = f"{finding.start:7.2f}–{finding.end:.2f} s"
        print(f"{finding.severity.upper():4}  {where}  {finding.kind}: {finding.message}")
    fails = sum(1 for finding in report.findings if finding.severity == "fail")
    warns = len(report.findings) - fails
    seconds = report.metrics.get("duration_s", 0.0)
    verdict = "ok" if report.ok else "FAILED"
    print(f"{source}: {verdict}, {fails} fail, {warns} warn over {seconds:.1f} s")
