"""The bounded, deterministic fuzz campaign: seed corpora, mutations, typed-error accounting.

Each target gets a share of the total number of inputs and its own `random.Random` seeded from
(campaign seed, target name), so a campaign replays input for input whatever the number of jobs.
The first inputs of a target are its seeds as they are; then mutations of the seeds and of the
inputs that produced an outcome not seen before (a small novelty pool). An input that raises
anything but the target's typed errors, or runs longer than the per-input time limit, is a crash:
it is saved under fuzz/crashes/ and the campaign stops (unless keep_going).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import signal
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from fuzz.targets import PRELOAD, SharedDataMissing, Target, all_targets

CRASH_DIR = Path(__file__).resolve().parent / "crashes"
NOVELTY_POOL = 256
INPUT_TIMEOUT = 10.0


class InputTimeout(BaseException):
    """One input ran longer than the per-input limit (BaseException: code under test may catch Exception)."""


@dataclass
class Crash:
    """An untyped exception (or a hang) on one input."""

    target: str
    kind: str
    message: str
    trace: str
    path: Path | None
    size: int

    def describe(self) -> str:
        """A short report with the command that replays the input."""
        where = f" — input saved to {self.path}" if self.path else ""
        replay = f"\n  reproduce: python -m fuzz --reproduce {self.path} --target {self.target}" if self.path else ""
        return f"CRASH in {self.target}: {self.kind}: {self.message[:300]}{where}{replay}\n{self.trace}"


@dataclass
class TargetResult:
    """What one target did: inputs run, time taken, outcomes (typed error codes and successes)."""

    name: str
    budget: int
    inputs: int = 0
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    crashes: list[Crash] = field(default_factory=list)
    skipped: str | None = None
    stopped_by_time: bool = False

    @property
    def rate(self) -> float:
        """Inputs per second."""
        return self.inputs / self.seconds if self.seconds else 0.0

    @property
    def typed_codes(self) -> list[str]:
        """Distinct typed error codes met."""
        return sorted(k.removeprefix("error:") for k in self.outcomes if k.startswith("error:"))


@dataclass
class CampaignResult:
    """All targets of one campaign."""

    results: list[TargetResult]
    seconds: float
    seed: int

    @property
    def total(self) -> int:
        """Inputs run across targets."""
        return sum(r.inputs for r in self.results)

    @property
    def crashes(self) -> list[Crash]:
        """Every crash found."""
        return [c for r in self.results for c in r.crashes]

    def table(self) -> str:
        """One line per target, then the totals."""
        lines = [f"{'target':<15} {'inputs':>9} {'seconds':>8} {'inputs/s':>9} {'ok':>8}  typed error codes"]
        for r in self.results:
            if r.skipped:
                lines.append(f"{r.name:<15} {'skipped':>9}  {r.skipped}")
                continue
            ok = sum(v for k, v in r.outcomes.items() if not k.startswith("error:"))
            more = f" (+{len(r.typed_codes) - 12})" if len(r.typed_codes) > 12 else ""
            codes = ", ".join(r.typed_codes[:12]) + more
            flag = " [time limit]" if r.stopped_by_time else ""
            lines.append(f"{r.name:<15} {r.inputs:>9} {r.seconds:>8.1f} {r.rate:>9.0f} {ok:>8}  "
                         f"{len(r.typed_codes)}: {codes}{flag}")
        rate = self.total / self.seconds if self.seconds else 0
        lines.append(f"{'TOTAL':<15} {self.total:>9} {self.seconds:>8.1f} {rate:>9.0f}  "
                     f"crashes: {len(self.crashes)}  seed: {self.seed}")
        return "\n".join(lines)


def budgets(targets: Sequence[Target], total: int) -> dict[str, int]:
    """Each target's number of inputs: its share of `total` (at least 1); they add up to `total`."""
    weight = sum(t.share for t in targets)
    out = {t.name: max(1, int(total * t.share / weight)) for t in targets}
    biggest = max(targets, key=lambda t: t.share).name
    out[biggest] += total - sum(out.values())
    return out


def _alarm(signum: int, frame: Any) -> None:
    raise InputTimeout(f"input took more than {INPUT_TIMEOUT:g} s")


def _outcome(target: Target, data: bytes) -> str:
    value = target.run(data)
    if isinstance(value, str):
        return value
    return "ok"


def _save(target: str, data: bytes, crash_dir: Path | None) -> Path | None:
    if crash_dir is None:
        return None
    crash_dir.mkdir(parents=True, exist_ok=True)
    path = crash_dir / f"{target}-{hashlib.sha256(data).hexdigest()[:16]}.bin"
    path.write_bytes(data)
    return path


def run_one(data: bytes, target: Target) -> str:
    """Run one input; the outcome ('ok', a verdict, or 'error:<class>:<code>'). Untyped errors propagate."""
    try:
        return _outcome(target, data)
    except target.typed as exc:
        return f"error:{type(exc).__name__}:{getattr(exc, 'code', '')}"


def fuzz_target(target: Target, budget: int, *, seed: int = 0, deadline: float | None = None,
                crash_dir: Path | None = CRASH_DIR, keep_going: bool = False,
                stop: Any = None) -> TargetResult:
    """Run `budget` inputs of one target (fewer if `deadline`, a time.monotonic() value, passes)."""
    result = TargetResult(target.name, budget)
    try:
        seeds = [s for s in target.seeds() if isinstance(s, bytes)]
    except SharedDataMissing as exc:
        result.skipped = str(exc)
        return result
    if not seeds:
        seeds = [b""]
    rng = Random(f"{seed}:{target.name}")  # noqa: S311 - reproducible inputs, not secrets
    pool: list[bytes] = list(seeds)
    seen: set[str] = set()
    crash_kinds: set[tuple[str, str]] = set()
    use_alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
    started = time.monotonic()
    try:
        for i in range(budget):
            if i % 256 == 0:
                if deadline is not None and time.monotonic() > deadline:
                    result.stopped_by_time = True
                    break
                if stop is not None and stop.is_set():
                    break
            data = seeds[i] if i < len(seeds) else target.mutate(rng, rng.choice(pool), pool, target.tokens)
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, INPUT_TIMEOUT)
            try:
                outcome = run_one(data, target)
            except (Exception, InputTimeout) as exc:  # MemoryError and RecursionError are Exceptions
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                result.inputs += 1
                frames = traceback.extract_tb(exc.__traceback__)
                last = frames[-1] if frames else None
                kind = (type(exc).__name__, f"{last.filename}:{last.lineno}" if last else "")
                if kind not in crash_kinds:
                    crash_kinds.add(kind)
                    result.crashes.append(Crash(target.name, type(exc).__name__, str(exc),
                                                "".join(traceback.format_exception(exc)[-12:]),
                                                _save(target.name, data, crash_dir), len(data)))
                if not keep_going:
                    if stop is not None:
                        stop.set()
                    break
                continue
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
            result.inputs += 1
            result.outcomes[outcome] += 1
            if outcome not in seen:
                seen.add(outcome)
                if len(pool) < NOVELTY_POOL:
                    pool.append(data)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        result.seconds = time.monotonic() - started
    return result


_STOP: Any = None


MEMORY_LIMIT = 6 * 1024**3
"""Address space of a worker process: an input that makes a decoder allocate without bound ends in
MemoryError (a crash) instead of taking the machine's memory."""


def limit_memory(limit: int = MEMORY_LIMIT) -> None:
    """Cap this process's address space (where the platform allows it)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def _init_worker(stop: Any) -> None:
    global _STOP
    _STOP = stop
    limit_memory()
    # shapely warns on every overflowing coordinate a mutation produces; the outcome is what counts.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="shapely")


def _target_process(name: str, budget: int, seed: int, deadline: float | None, crash_dir: str | None,
                    keep_going: bool, stop: Any, results: Any) -> None:
    _init_worker(stop)
    target = next(t for t in all_targets() if t.name == name)
    results.put(fuzz_target(target, budget, seed=seed, deadline=deadline,
                            crash_dir=Path(crash_dir) if crash_dir else None, keep_going=keep_going, stop=_STOP))


def _died(name: str, budget: int, exitcode: int | None) -> TargetResult:
    how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    crash = Crash(name, "WorkerDied", f"the worker process running this target ended ({how}) without a result: "
                  "a crash in native code or memory exhaustion", "rerun this target alone with --jobs 1 under "
                  f"a debugger: python -m fuzz --targets {name} --total {budget} --jobs 1\n", None, 0)
    return TargetResult(name, budget, crashes=[crash])


def _run_parallel(chosen: Sequence[Target], plan: dict[str, int], *, seed: int, deadline: float | None,
                  crash_dir: Path | None, keep_going: bool, jobs: int, progress: Any) -> list[TargetResult]:
    """One process per target, `jobs` at a time. A process that dies (a native crash, the memory cap)
    is reported as a crash of its target instead of leaving the campaign waiting for it.

    The processes come from a fork server (a clean, single-threaded parent with the targets and their
    slow imports, PRELOAD, done once): forking the caller itself (pytest, with its threads) is not safe."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["fuzz.targets", *PRELOAD])
    stop = context.Event()
    queue = context.SimpleQueue()
    # Slow targets first so that they do not finish last on one core while the other idles.
    waiting = sorted(chosen, key=lambda t: t.share)
    running: dict[str, Any] = {}
    results: list[TargetResult] = []

    def finish(result: TargetResult) -> None:
        results.append(result)
        if progress:
            progress(result)

    while waiting or running:
        while waiting and len(running) < jobs and not stop.is_set():
            target = waiting.pop(0)
            process = context.Process(target=_target_process, name=f"fuzz-{target.name}", daemon=True, args=(
                target.name, plan[target.name], seed, deadline, str(crash_dir) if crash_dir else None, keep_going,
                stop, queue))
            process.start()
            running[target.name] = process
        if stop.is_set():
            waiting.clear()
        while not queue.empty():
            result = queue.get()
            running.pop(result.name).join()
            finish(result)
        for name, process in list(running.items()):
            if not process.is_alive() and queue.empty():
                process.join()
                del running[name]
                finish(_died(name, plan[name], process.exitcode))
                if not keep_going:
                    stop.set()
        time.sleep(0.05)
    return results


def run_campaign(targets: Iterable[Target] | None = None, *, total: int = 1_000_000, seconds: float | None = None,
                 seed: int = 0, jobs: int = 1, crash_dir: Path | None = CRASH_DIR, keep_going: bool = False,
                 progress: Any = None) -> CampaignResult:
    """Run every target with its share of `total` inputs, within `seconds` of wall time overall."""
    chosen = list(targets) if targets is not None else all_targets()
    plan = budgets(chosen, total)
    started = time.monotonic()
    deadline = started + seconds if seconds else None
    results: list[TargetResult] = []
    if jobs <= 1:
        for index, target in enumerate(chosen):
            share_deadline = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                share_deadline = time.monotonic() + max(remaining, 0) / (len(chosen) - index)
            result = fuzz_target(target, plan[target.name], seed=seed, deadline=share_deadline, crash_dir=crash_dir,
                                 keep_going=keep_going)
            results.append(result)
            if progress:
                progress(result)
            if result.crashes and not keep_going:
                break
    else:
        results = _run_parallel(chosen, plan, seed=seed, deadline=deadline, crash_dir=crash_dir,
                                keep_going=keep_going, jobs=jobs, progress=progress)
        rank = {t.name: i for i, t in enumerate(chosen)}
        results.sort(key=lambda r: rank[r.name])
    return CampaignResult(results, time.monotonic() - started, seed)
