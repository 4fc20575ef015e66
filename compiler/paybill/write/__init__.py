"""Stage 5, write: put output on disk atomically, never leaving a half-written tree."""
