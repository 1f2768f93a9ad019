"""The observation intake service (FastAPI): JSON API, auth, evidence, pages."""
