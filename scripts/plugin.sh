# Sourced by the GPU scripts, which run the project from a working tree (`PYTHONPATH=.`, not installed):
# there pytest finds the plugin only through PYTEST_PLUGINS.
python -c "import importlib.metadata as md, sys; sys.exit(not any(e.name == 'aotperf' for e in md.entry_points(group='pytest11')))" \
    || export PYTEST_PLUGINS=pytest_aotperf.plugin
