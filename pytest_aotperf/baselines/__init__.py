"""Baselines: the stored form of metrics, and their JSON files."""
