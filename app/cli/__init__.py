"""The command line (DESIGN.md "CLI contract"): `main` parses and dispatches, `common` holds what every
command shares, and one module per command group (project, check, models, templates) adds its parser and
runs it. Heavy modules (librosa, av, cv2, torch) are imported inside the commands, so `--help` is instant."""

from app.cli.main import run

__all__ = ["run"]
