"""`aotperf ab`: the base commit and this tree measured alternately in one job on one machine, head judged
against base."""
