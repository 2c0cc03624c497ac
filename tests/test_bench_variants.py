"""bench/bench_step_variants.py runs and prints one row per variant (its numbers are not checked here:
speed lives in bench/, not in timed tests)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_step_variants_prints_the_cpu_and_every_variant():
    out = subprocess.run([sys.executable, str(ROOT / "bench/bench_step_variants.py"), "--steps", "1", "--threads", "1"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT, check=True).stdout
    assert out.startswith("CPU: ") and "ISA: torch cpu capability" in out
    rows = [line.split()[0] for line in out.splitlines() if "s/step" in line]
    assert rows == ["fp32", "bf16", "channels_last", "bf16+channels_last"], out
