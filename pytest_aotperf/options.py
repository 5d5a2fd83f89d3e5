"""Command-line and ini options, declared once; resolved into one immutable Settings."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, TypeVar

import pytest

from .backends import KNOWN_BACKENDS
from .baselines.files import UnsafeNameError, check_name
from .compile_cache import MODES as COMPILE_CACHE_MODES
from .host_speed import HOST_RULES, SPREAD, HostRule
from .measure.timing import SamplingPlan
from .units import QuantityError, parse_percent

if TYPE_CHECKING:
    from .metrics import Kind

Number = TypeVar("Number", int, float)
MAX_SECONDS = 3600.0
"""The longest warm-up or sampling budget of one measurement."""
MAX_COUNT = 1_000_000
"""The most samples (or earlier runs) an option may ask for."""

DEFAULT_BACKENDS = "eager"
TABLE_CHOICES = ("attention", "all")
"""The end-of-run table: the metrics that need a look (regressed, noisy, improved, new), or every metric."""


def parse_backends(text: str) -> Tuple[str, ...]:
    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    unknown = [n for n in names if n not in KNOWN_BACKENDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown backend {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"known backends: {', '.join(KNOWN_BACKENDS)}"
        )
    return tuple(dict.fromkeys(names))


def one_of(choices: Tuple[str, ...]) -> Callable[[str], str]:
    """A parser accepting one of `choices`."""

    def parse(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of: {', '.join(choices)}")
        return text

    parse.__name__ = "choice"
    return parse


def parse_machine(text: str) -> str:
    """A machine key names a folder of baselines; it often comes from CI variables, so it is checked."""
    try:
        return check_name("machine key", text)
    except UnsafeNameError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_tolerance(text: str) -> float:
    try:
        return parse_percent(text)
    except QuantityError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(kind: Callable[[str], Number], maximum: Number) -> Callable[[str], Number]:
    """A parser of a finite number above 0 and at most `maximum`."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{text!r} is beyond the most this accepts, {maximum:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


@dataclass(frozen=True)
class Option:
    name: str
    help: str
    default: Any = None
    parse: Optional[Callable[[str], Any]] = None
    flag: bool = False
    metavar: Optional[str] = None

    @property
    def ini(self) -> str:
        return self.name.lstrip("-").replace("-", "_")


OPTIONS = (
    Option(
        "--aot-backend",
        "backends to run, comma-separated: " + ", ".join(KNOWN_BACKENDS),
        DEFAULT_BACKENDS,
        parse_backends,
        metavar="NAME[,NAME...]",
    ),
    Option(
        "--aot-baseline-dir", "where baselines are stored (relative paths from the rootdir)", "baselines", metavar="DIR"
    ),
    Option(
        "--aot-refresh",
        "refresh mode: measure and write baselines; regressions are reported, not failed",
        False,
        flag=True,
    ),
    Option(
        "--aot-force-refresh",
        "with --aot-refresh: rewrite every measured metric, changed or not",
        False,
        flag=True,
    ),
    Option("--aot-tolerance", "allowed slowdown of timing and other metrics", "10%", parse_tolerance, metavar="PCT"),
    Option("--aot-memory-tolerance", "allowed growth of memory metrics", "5%", parse_tolerance, metavar="PCT"),
    Option(
        "--aot-duration-tolerance",
        "allowed slowdown of one-shot timings (compile_s, capture_s)",
        "25%",
        parse_tolerance,
        metavar="PCT",
    ),
    Option("--aot-report", "write the whole run as JSON to PATH", None, metavar="PATH"),
    Option("--aot-strict", "a measured test with no baseline fails", False, flag=True),
    Option("--aot-fail-on-improvement", "an improvement beyond the tolerance fails (stale baseline)", False, flag=True),
    Option(
        "--aot-machine", "machine key for baselines (default: a slug of the device)", None, parse_machine, metavar="KEY"
    ),
    Option("--aot-min-samples", "fewest timed samples per measurement", 20, _positive(int, MAX_COUNT), metavar="N"),
    Option(
        "--aot-max-time",
        "time budget of one measurement's samples, in seconds",
        1.0,
        _positive(float, MAX_SECONDS),
        metavar="SECONDS",
    ),
    Option(
        "--aot-warmup",
        "warm-up time before sampling, in seconds",
        0.05,
        _positive(float, MAX_SECONDS),
        metavar="SECONDS",
    ),
    Option("--aot-flush-l2", "flush the GPU's L2 cache between samples (as triton's do_bench)", False, flag=True),
    Option(
        "--aot-prior-runs",
        "reports of earlier runs to record with this one (used by aotperf refresh --runs)",
        "",
        metavar="REPORT[,REPORT...]",
    ),
    Option(
        "--aot-report-raw-samples",
        "keep every sample in the reports (by default thinned to those a baseline keeps; counts and statistics "
        "are of every sample)",
        False,
        flag=True,
    ),
    Option(
        "--aot-report-md",
        "write a Markdown summary of the run to PATH (CI job summaries, PR comments)",
        None,
        metavar="PATH",
    ),
    Option(
        "--aot-history", "append the run to the SQLite history at PATH (see `aotperf history`)", None, metavar="PATH"
    ),
    Option(
        "--aot-history-min-runs",
        "with --aot-history: a metric with this many earlier runs here is judged by their noise band",
        10,
        _positive(int, MAX_COUNT),
        metavar="N",
    ),
    Option(
        "--aot-benchmark-json",
        "write the run's timings to PATH in pytest-benchmark's JSON format",
        None,
        metavar="PATH",
    ),
    Option(
        "--aot-table",
        "the end-of-run table: 'attention' (regressed, noisy, improved, new; a count of the rest) "
        "or 'all'; -v implies all",
        "attention",
        one_of(TABLE_CHOICES),
        metavar="attention|all",
    ),
    Option(
        "--aot-gate-benchmarks",
        "judge every test using pytest-benchmark's `benchmark` fixture against baselines",
        False,
        flag=True,
    ),
    Option(
        "--aot-compile-cache",
        "compile caches (Inductor, Triton, vLLM): 'fresh', an empty folder of this run, so every run compiles "
        "cold; or 'keep', the folders the environment names",
        "fresh",
        one_of(COMPILE_CACHE_MODES),
        metavar="fresh|keep",
    ),
    Option(
        "--aot-host-timings",
        "host-speed timings (host-bound latency, compile, capture and build times, every timing on a CPU-only "
        "machine): 'spread', judged by the band of their own recorded runs, information until there are 5; "
        "'tolerance', judged by the fixed tolerance (a dedicated, quiet machine); or 'info', shown and never "
        "judged (a machine shared with other jobs)",
        SPREAD,
        one_of(HOST_RULES),
        metavar="spread|tolerance|info",
    ),
    Option(
        "--aot-share-gpus",
        "under xdist, let more workers than GPUs share them (their timings are flagged shared-gpu)",
        False,
        flag=True,
    ),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("aotperf", "performance baselines of compiled models (pytest-aotperf)")
    for option in OPTIONS:
        if option.flag:
            group.addoption(option.name, action="store_true", default=None, help=option.help)
            parser.addini(option.ini, option.help, type="bool", default=option.default)
        else:
            group.addoption(
                option.name,
                metavar=option.metavar,
                type=option.parse,
                default=None,
                help=f"{option.help} (default: {option.default})".replace("%", "%%"),
            )
            parser.addini(option.ini, option.help, default=str(option.default) if option.default is not None else None)


@dataclass(frozen=True)
class Settings:
    backends: Tuple[str, ...]
    baseline_dir: Path
    refresh: bool
    force_refresh: bool
    tolerance: float
    memory_tolerance: float
    duration_tolerance: float
    report: Optional[Path]
    strict: bool
    fail_on_improvement: bool
    machine: Optional[str]
    plan: SamplingPlan
    prior_runs: Tuple[Path, ...]
    report_md: Optional[Path] = None
    history: Optional[Path] = None
    history_min_runs: int = 10
    benchmark_json: Optional[Path] = None
    gate_benchmarks: bool = False
    table: str = "attention"
    share_gpus: bool = False
    compile_cache: str = "fresh"
    host_timings: HostRule = SPREAD
    report_raw_samples: bool = False

    @property
    def outputs(self) -> Dict[str, Optional[Path]]:
        """The files a run writes besides baselines, by the label the terminal summary gives them."""
        return {
            "report": self.report,
            "markdown report": self.report_md,
            "pytest-benchmark JSON": self.benchmark_json,
            "history": self.history,
        }

    @property
    def output_options(self) -> Dict[str, Optional[Path]]:
        """The same files by the option that names them, for errors about them."""
        return {
            "--aot-report": self.report,
            "--aot-report-md": self.report_md,
            "--aot-benchmark-json": self.benchmark_json,
            "--aot-history": self.history,
        }

    def default_tolerance(self, kind: Kind) -> float:
        return {"memory": self.memory_tolerance, "duration": self.duration_tolerance}.get(kind, self.tolerance)


def read_settings(config: pytest.Config) -> Settings:
    """Command line first, then the ini file, then the defaults; bad ini values are usage errors."""
    values = {option.ini: _value(config, option) for option in OPTIONS}
    root = Path(config.rootpath)
    return Settings(
        backends=values["aot_backend"],
        baseline_dir=baseline_folder(root, values["aot_baseline_dir"]),
        refresh=bool(values["aot_refresh"]),
        force_refresh=bool(values["aot_force_refresh"]),
        tolerance=values["aot_tolerance"],
        memory_tolerance=values["aot_memory_tolerance"],
        duration_tolerance=values["aot_duration_tolerance"],
        report=_path(values["aot_report"]),
        strict=bool(values["aot_strict"]),
        fail_on_improvement=bool(values["aot_fail_on_improvement"]),
        machine=values["aot_machine"] or None,
        plan=SamplingPlan(
            warmup_s=values["aot_warmup"],
            min_samples=values["aot_min_samples"],
            max_samples=max(1000, values["aot_min_samples"]),
            max_time_s=values["aot_max_time"],
            flush_l2=bool(values["aot_flush_l2"]),
        ),
        prior_runs=tuple(Path(p) for p in str(values["aot_prior_runs"]).split(",") if p),
        report_md=_path(values["aot_report_md"]),
        history=_path(values["aot_history"]),
        history_min_runs=values["aot_history_min_runs"],
        benchmark_json=_path(values["aot_benchmark_json"]),
        gate_benchmarks=bool(values["aot_gate_benchmarks"]),
        table=values["aot_table"],
        share_gpus=bool(values["aot_share_gpus"]),
        compile_cache=values["aot_compile_cache"],
        host_timings=values["aot_host_timings"],
        report_raw_samples=bool(values["aot_report_raw_samples"]),
    )


def baseline_folder(root: Path, text: str) -> Path:
    """The baseline folder `text` names, from `root`; usage errors for none and for a file."""
    if not str(text).strip():
        raise pytest.UsageError("--aot-baseline-dir: empty; name a folder (default: baselines)")
    folder = root / text
    if folder.exists() and not folder.is_dir():
        raise pytest.UsageError(f"--aot-baseline-dir: {folder} is a file, not a folder")
    return folder


def share_gpus(config: pytest.Config) -> bool:
    """--aot-share-gpus, read before the session's settings (a worker picks its GPU in pytest_configure)."""
    return bool(early_value(config, "--aot-share-gpus"))


def early_value(config: pytest.Config, name: str) -> Any:
    """An option read in pytest_configure, before the session's settings (--aot-share-gpus, --aot-compile-cache)."""
    return _value(config, next(option for option in OPTIONS if option.name == name))


def _path(text: Optional[str]) -> Optional[Path]:
    return Path(text) if text else None


def _value(config: pytest.Config, option: Option) -> Any:
    from_cli = config.getoption(option.name)
    if from_cli is not None:
        return from_cli
    raw = config.getini(option.ini)
    if option.flag or option.parse is None or raw is None:
        return raw
    try:
        return option.parse(str(raw))
    except argparse.ArgumentTypeError as error:
        raise pytest.UsageError(f"ini option {option.ini} = {raw!r}: {error}") from None
