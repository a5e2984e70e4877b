"""Re-render after editing one act of twenty: only that act is rendered again, the rest are cache hits.

Prints the time to render all draft proxies cold, the time after editing one act, after reordering and
after undo, with the number of proxies actually rendered each time and the ratio to the cold render.
Run: python bench/bench_cache.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from app.engine.cache import StageCache
from app.engine.pipeline import ActPipeline, RenderTarget
from app.model import Act, CameraMove, MediaRef, MotionSettings, Project, ProjectSettings
from app.model.commands import MoveAct, SetActField
from app.model.history import History

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"
ACTS = 20
FRAMES_PER_ACT = 48


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="storybeat-bench-cache-"))
    try:
        photos = sorted(DEMO.glob("0*.jpg"))
        for photo in photos:
            shutil.copy(photo, work / photo.name)
        cameras = list(CameraMove)
        project = Project(
            settings=ProjectSettings(fps=Fraction(24), width=1920, height=1080),
            acts=[
                Act(
                    id=f"act{i}",
                    name=f"Act {i}",
                    duration_frames=FRAMES_PER_ACT,
                    references=[MediaRef(path=photos[i % len(photos)].name)],
                    motion=MotionSettings(camera=cameras[i % len(cameras)]),
                    seed=i,
                )
                for i in range(ACTS)
            ],
        )
        history = History(project)
        pipeline = ActPipeline(work, StageCache(work / "cache"))
        target = RenderTarget.preview(project)

        def render_all() -> tuple[float, int]:
            before = pipeline.renders
            start = time.perf_counter()
            for act in project.acts:
                pipeline.draft_clip(act, target).frame(0)
            return time.perf_counter() - start, pipeline.renders - before

        cold, cold_renders = render_all()
        rows = [("cold: all 20 acts", cold, cold_renders)]
        history.execute(
            SetActField("act7", "motion", MotionSettings(camera=CameraMove.zoom_out, intensity=0.9))
        )
        rows.append(("edit one act's motion", *render_all()))
        history.execute(MoveAct("act3", 15))
        rows.append(("reorder an act", *render_all()))
        history.undo()
        history.undo()
        rows.append(("undo both edits", *render_all()))

        print(f"draft proxies {target.width}x{target.height}, {ACTS} acts x {FRAMES_PER_ACT} frames")
        print(f"{'step':<26}{'seconds':>9}{'rendered':>10}{'÷ cold':>9}")
        for label, seconds, rendered in rows:
            print(f"{label:<26}{seconds:>9.3f}{rendered:>10}{seconds / cold:>9.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
