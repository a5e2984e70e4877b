"""The template library (built-in and user templates, validated folders) and .zip bundles."""

from app.engine.templates.bundle import TemplateInstalled, export_bundle, import_bundle
from app.engine.templates.library import (
    BUILTIN_DIR,
    LibraryTemplate,
    TemplateLibrary,
    embed_template,
    load_template_folder,
    template_files_from_act,
    template_from_acts,
    user_templates_dir,
)

__all__ = [
    "BUILTIN_DIR",
    "LibraryTemplate",
    "TemplateInstalled",
    "TemplateLibrary",
    "embed_template",
    "export_bundle",
    "import_bundle",
    "load_template_folder",
    "template_files_from_act",
    "template_from_acts",
    "user_templates_dir",
]
