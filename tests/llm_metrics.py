"""What the LLM runner tests read back: a recorder's metrics by name, whatever the compile cache was."""

from pytest_aotperf.llm.metrics import without_cache_state


def metrics_by_name(recorder):
    """Metrics by name, build metrics without their cache state (`engine_build_cold_s` -> `engine_build_s`)."""
    return {without_cache_state(m.name): m for m in recorder.metrics}
