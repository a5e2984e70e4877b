"""Everything that computes: stages, backends, cache, export, audio analysis. Headless: no Qt GUI modules."""
