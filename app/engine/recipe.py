"""The recipe embedded in every export: what made these pictures (prompts, seeds, backends, templates)."""

from __future__ import annotations

import json
from typing import Any

import app
from app.engine.media import MediaResolver
from app.model import Project


def project_recipe(
    project: Project, media: MediaResolver, draft: bool, backend_override: str | None
) -> dict[str, Any]:
    """A JSON-serialisable description of the render, detailed enough to reproduce it."""

    def media_entry(ref: Any) -> dict[str, str]:
        return {"path": ref.path, "sha256": media.sha256(ref)}

    return {
        "storybeat": app.__version__,
        "schema_version": project.schema_version,
        "pass": "draft" if draft else "final",
        "settings": project.settings.model_dump(mode="json"),
        "acts": [
            {
                "name": act.name,
                "frames": act.duration_frames,
                "prompt": act.prompt,
                "negative_prompt": act.negative_prompt,
                "seed": act.effective_seed(),
                "backend": backend_override or (act.draft_backend if draft else act.final_backend),
                "template": act.template.model_dump(mode="json") if act.template else None,
                "references": [media_entry(ref) for ref in act.references],
                "motion": act.motion.model_dump(mode="json"),
                "transition": act.transition.model_dump(mode="json"),
                "grade": act.grade.model_dump(mode="json", exclude={"lut"}),
                "notes": act.notes,
            }
            for act in project.acts
        ],
        "audio": [{**media_entry(clip.media), "offset_frames": clip.offset_frames} for clip in project.audio],
    }


def recipe_json(recipe: dict[str, Any]) -> str:
    return json.dumps(recipe, sort_keys=True, separators=(",", ":"))
