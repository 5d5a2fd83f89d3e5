"""What a run tells people: the terminal table, the JSON report (and the renderers built on it)."""
