"""Generative models: the allow-listed diffusers pipelines, the user's model registry, loading, and the
device/memory planning that keeps them running on whatever GPU (or CPU) the user has."""
