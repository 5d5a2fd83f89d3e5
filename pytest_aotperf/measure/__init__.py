"""Measurement: timers, memory probes, GPU health readings and statistics."""
