"""The Qt editor (widgets only: views and controllers over app.model commands and the app.engine worker)."""

# pydantic loads some of its modules lazily; a lazy load that first happens after PySide6 is imported fails
# with a circular-import error. Loading the document model (and with it every pydantic part it uses) before
# any Qt module avoids that.
import app.model  # noqa: F401
