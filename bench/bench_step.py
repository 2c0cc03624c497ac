"""Where a training step's time goes: loader / forward / assignment / rest of the loss / backward /
optimizer, on the real training loop (``train_round``) over a real dataset and label table.

Usage: .venv/bin/python bench/bench_step.py --dataset data/dataset \\
           --labels artifacts/round_0/labels/labels.parquet [--labels artifacts/round_1/labels/labels.parquet]
           [--steps 40] [--warmup 5] [--threads 2] [-S key=value ...]
Each phase is timed by wrapping the function that does it (wall clock, so run it on an idle machine);
"other" is what the step spends outside them (RNN state store, logging, scheduler); "cpu" is the
process's CPU time per step (all its threads), which other load on the machine disturbs less, and "busy"
how many cores the step keeps busy on average (cpu / step). The first line names the CPU: model, the SIMD
level torch dispatches to, native bf16 (AVX512-BF16 / AMX) and the topology. Round 0's
sparse labels and round 1's dense pseudo labels side by side show what dense labels cost. OpenMP threads
wait passively as under the leod CLI; ``GOMP_SPINCOUNT=300000`` measures libgomp's spinning default.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# the wait policy of the leod CLI (flows/cli.py), set before torch loads libgomp; GOMP_SPINCOUNT=300000
# measures libgomp's own default (idle threads spin ~3 ms before they sleep)
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_facts import cpu_info  # noqa: E402

PHASES = ("loader", "forward", "assignment", "loss_rest", "backward", "optimizer", "other")


class PhaseClock:
    """Sums wall seconds per phase; nested phases are subtracted from their parent."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self._stack: list[list[Any]] = []
        self.on = False

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if not self.on:
            yield
            return
        entry = [name, time.perf_counter(), 0.0]  # name, start, time spent in nested phases
        self._stack.append(entry)
        try:
            yield
        finally:
            self._stack.pop()
            spent = time.perf_counter() - entry[1]
            self.total[name] += spent - entry[2]
            if self._stack:
                self._stack[-1][2] += spent

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        fn = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)

        setattr(owner, attr, timed)


def instrument(clock: PhaseClock) -> None:
    import leod_core.model.losses as losses
    import leod_core.train.loop as loop
    from leod_core.model.detector import Detector

    clock.wrap(Detector, "forward_backbone", "forward")
    clock.wrap(Detector, "loss", "loss_rest")  # the head's forward counts here, assignment is nested
    clock.wrap(losses, "simota_assign", "assignment")
    clock.wrap(torch.Tensor, "backward", "backward")
    clock.wrap(torch.amp.GradScaler, "step", "optimizer")
    forever = loop._forever

    def timed_forever(loader: Any) -> Iterator[Any]:
        it = forever(loader)
        while True:
            with clock.phase("loader"):
                batch = next(it)
            yield batch

    loop._forever = timed_forever


def round_of(labels: Path) -> int:
    """The round a label table belongs to (``.../round_K/labels/...``; 0 otherwise): its loss settings."""
    for part in labels.parts:
        if part.startswith("round_") and part[6:].isdigit():
            return int(part[6:])
    return 0


def measure(labels: Path, dataset: Path, steps: int, warmup: int, overrides: list[str]) -> dict[str, float]:
    """Seconds per step by phase over ``steps`` steps after ``warmup``."""
    from flows.settings import load_config
    from leod_core.train.loop import train_round

    clock = PhaseClock()
    instrument(clock)
    marks: dict[str, float] = {}

    def callback(step: int, metrics: dict[str, float]) -> None:
        if step == warmup:
            clock.on = True
            clock.total.clear()
            marks["t0"] = time.perf_counter()
            marks["cpu0"] = time.process_time()

    cfg = load_config(None, [f"train.steps={warmup + steps}", f"train.steps_self_train={warmup + steps}", "train.ckpt_every=100000", "train.val_every=0",
                             *overrides])
    with tempfile.TemporaryDirectory() as out:
        clock.on = False
        train_round(cfg, round_of(labels), labels, dataset, Path(out), callback=callback)
    wall = time.perf_counter() - marks["t0"]
    cpu = time.process_time() - marks["cpu0"]  # this process's threads, user + system
    per_step = {k: clock.total.get(k, 0.0) / steps for k in PHASES[:-1]}
    per_step["other"] = wall / steps - sum(per_step.values())
    per_step["step"] = wall / steps
    per_step["cpu"] = cpu / steps
    return per_step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--labels", type=Path, action="append", required=True)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("\n".join(cpu_info()))
    print(f"{'labels':<48} " + " ".join(f"{p:>10}" for p in (*PHASES, "step", "cpu")) + "   (ms per step)  busy")
    for labels in args.labels:
        r = measure(labels, args.dataset, args.steps, args.warmup, [f"train.threads={args.threads}", *args.overrides])
        # busy: the cores the step keeps busy on average (CPU time over wall time)
        print(f"{str(labels)[-48:]:<48} " + " ".join(f"{1000 * r[p]:>10.1f}" for p in (*PHASES, "step", "cpu"))
              + f"  {r['cpu'] / r['step']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
