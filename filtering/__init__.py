"""Filters and statistics over extracted pairs: corpus-level (dedup, decontamination, the passage pool; torch-free)
and model-based (the consistency filter)."""
