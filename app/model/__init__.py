"""The document: plain Python, never imports Qt or the engine."""

from app.model.act import (
    Act,
    CameraMove,
    Easing,
    FitMode,
    GenerationSettings,
    GradeSettings,
    MotionSettings,
    Take,
    TemplateLink,
    TransitionKind,
    TransitionSpec,
)
from app.model.media import MediaRef
from app.model.project import (
    SCHEMA_VERSION,
    AudioClip,
    BeatGrid,
    ConsistencyError,
    Marker,
    Project,
    ProjectSettings,
    Section,
)
from app.model.take_commands import AddTakes, RateTake, RemoveTake, SelectTake, SetTakeNote, fresh_seeds

__all__ = [
    "SCHEMA_VERSION",
    "Act",
    "AddTakes",
    "AudioClip",
    "BeatGrid",
    "CameraMove",
    "ConsistencyError",
    "Easing",
    "FitMode",
    "GenerationSettings",
    "GradeSettings",
    "Marker",
    "MediaRef",
    "MotionSettings",
    "Project",
    "ProjectSettings",
    "RateTake",
    "RemoveTake",
    "Section",
    "SelectTake",
    "SetTakeNote",
    "Take",
    "TemplateLink",
    "TransitionKind",
    "TransitionSpec",
    "fresh_seeds",
]
