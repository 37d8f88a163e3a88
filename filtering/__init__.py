"""Model-based filters over extracted pairs (consistency filtering)."""
