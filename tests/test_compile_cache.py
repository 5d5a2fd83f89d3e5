"""Every run compiles cold unless told to keep the environment's compile caches."""

import json
import os

import pytest
from fake_timer import CONFTEST

from pytest_aotperf.compile_cache import CACHE_VARIABLES, use_fresh_caches

SHOWS_CACHES = """
import json, os

def test_caches(aot_backend, aot_perf):
    print("CACHES=" + json.dumps({v: os.environ.get(v) for v in %r}))
    aot_perf.record("value", 1.0)
""" % (sorted(CACHE_VARIABLES),)


def caches_seen(result):
    line = next(line for line in result.outlines if "CACHES=" in line)
    return json.loads(line.split("CACHES=", 1)[1])


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/users/own/inductor")
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_perf=SHOWS_CACHES)
    return pytester


def run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "--aot-machine=m", "-s", *args)


def test_fresh_caches_point_every_compiler_at_an_empty_folder_and_undo_restores_the_environment(tmp_path):
    environ = {"TORCHINDUCTOR_CACHE_DIR": "/users/own/inductor"}
    undo = use_fresh_caches(environ)
    folders = {environ[variable] for variable in CACHE_VARIABLES}
    assert len(folders) == len(CACHE_VARIABLES)
    root = os.path.dirname(next(iter(folders)))
    assert os.path.basename(root).startswith("aotperf-compile-cache-") and os.listdir(root) == []
    undo()
    assert environ == {"TORCHINDUCTOR_CACHE_DIR": "/users/own/inductor"} and not os.path.exists(root)


def test_a_run_compiles_in_fresh_caches_by_default_and_records_it(suite):
    result = run(suite, "--aot-report=report.json")
    assert result.ret == 0
    seen = caches_seen(result)
    assert all("aotperf-compile-cache-" in seen[variable] for variable in CACHE_VARIABLES)
    assert not os.path.exists(os.path.dirname(seen["TORCHINDUCTOR_CACHE_DIR"]))
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == "/users/own/inductor"
    assert json.loads((suite.path / "report.json").read_text())["environment"]["compile_cache"] == "fresh"


def test_keep_leaves_the_environments_caches(suite):
    result = run(suite, "--aot-compile-cache=keep")
    assert result.ret == 0
    seen = caches_seen(result)
    assert seen["TORCHINDUCTOR_CACHE_DIR"] == "/users/own/inductor" and seen["TRITON_CACHE_DIR"] is None


def test_an_unknown_mode_is_a_usage_error_naming_the_option(suite):
    result = run(suite, "--aot-compile-cache=warm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--aot-compile-cache*'warm' is not one of: fresh, keep*"])
