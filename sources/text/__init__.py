"""Text cleaning: markup to plain text, normalisation, language ID, quality lists and the shared keep/drop rules."""
