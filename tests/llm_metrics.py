"""What the LLM runner tests read back: a recorder's metrics by name, whatever the compile cache was."""


def metrics_by_name(recorder):
    """Metrics by name, build metrics without their cache state (`engine_build_cold_s` -> `engine_build_s`)."""
    return {m.name.replace("_cold_s", "_s").replace("_warm_s", "_s"): m for m in recorder.metrics}
