"""Working with pytest-benchmark: its JSON format for our measurements, and gating its `benchmark` tests."""
