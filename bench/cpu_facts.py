"""What machine a benchmark ran on, and how busy it kept it: printed beside every speed number."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

__all__ = ["cpu_info", "busy_cpu_seconds"]


def cpu_info() -> list[str]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    blocks = [b for b in text.split("\n\n") if b.strip()]

    def field(block: str, key: str) -> str:
        for line in block.splitlines():
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
        return "?"

    first = blocks[0] if blocks else ""
    flags = set(field(first, "flags").split())
    sockets = len({field(b, "physical id") for b in blocks}) or 1
    cores = field(first, "cpu cores")
    siblings = field(first, "siblings")
    tpc = (int(siblings) // int(cores)) if cores.isdigit() and siblings.isdigit() and int(cores) else "?"
    isa = ", ".join(f"{f} {'yes' if f in flags else 'no'}"
                    for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"))
    return [f"CPU: {field(first, 'model name')} (family {field(first, 'cpu family')} model {field(first, 'model')}), "
            f"{len(blocks)} logical CPUs: {sockets} socket(s) x {cores} core(s) x {tpc} thread(s) per core; "
            f"affinity {len(os.sched_getaffinity(0))} CPUs; {'hypervisor' if 'hypervisor' in flags else 'bare metal'}",
            f"ISA: torch cpu capability {torch.backends.cpu.get_cpu_capability()}; /proc/cpuinfo: {isa}",
            f"torch {torch.__version__}, python {platform.python_version()}, "
            f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '-')}, load average {os.getloadavg()[0]:.2f}"]


def busy_cpu_seconds() -> float:
    """CPU seconds all processes of the machine have run so far (/proc/stat: all but idle and iowait)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
