"""Small, deterministic demo inputs in the real dump formats, so a fresh machine can run every job."""
