"""The run history (--aot-history): the runs' stored values, the band a metric's next run may fall in, its steps
to new levels and its slow drift."""
