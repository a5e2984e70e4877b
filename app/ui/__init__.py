"""The Qt editor (widgets only: views and controllers over app.model commands and the app.engine worker)."""
