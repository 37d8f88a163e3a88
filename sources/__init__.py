"""Pure-Python source parsers: raw record -> typed record -> candidate pairs. Never Beam, never torch."""
