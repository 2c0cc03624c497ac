"""EVT 3.0 ``.raw`` decode (+ stacked histograms) throughput, streaming and peak memory, per decoder.

Run: .venv/bin/python bench/bench_decode.py [--events 20000000] [--seconds 40] [--extra-site DIR] [--keep DIR]

A Gen4-sized (1280x720) EVT 3.0 recording is written with the test suite's independent encoder
(``tests/evt_encoders.py``: TIME_HIGH steps, 24-bit wraps, VECT_12/VECT_8 vectors, ADDR_X singles), a
piece at a time so the generator's memory stays small. Then each decoder runs in its own child process
(so each peak RSS is its own): ``leod`` is what ``leod import``/``leod predict`` use
(``leod_core.events.readers.iter_recording_chunks``); the others are the PyPI decoders that were
evaluated and rejected, each run if it imports (``--extra-site DIR`` appends a folder with them, e.g. a
scratch venv's site-packages, to ``sys.path``). Per decoder: decode-only M events/s, decode + leod's
50 ms stacked histograms (Gen4: 10 bins, downsampled to 360x640) M events/s, whether it streamed
(peak RSS well below the decoded size), peak RSS (ru_maxrss, and above the child's RSS after imports),
and correctness (count and sums of t, x, y, p against the encoder's).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
H, W = 720, 1280
BLOCK_EVENTS = 1_000_000
CHUNK = 1 << 20


def write_recording(path: Path, n_events: int, seconds: float) -> dict[str, int]:
    """Write the EVT 3.0 file piece by piece; returns the checksums of its events."""
    sys.path.insert(0, str(ROOT / "tests"))
    from evt_encoders import encode_evt3, raw_header, random_events

    sums = {"n": 0, "t": 0, "x": 0, "y": 0, "p": 0}
    n_blocks = max(1, n_events // BLOCK_EVENTS)
    block_us = int(seconds * 1e6 / n_blocks)
    prev_hi = -1
    with open(path, "wb") as f:
        f.write(raw_header("EVT3", H, W))
        for b in range(n_blocks):
            ev = random_events(n_events // n_blocks, block_us, H, W, seed=b, t0_us=b * block_us)
            f.write(encode_evt3(ev, prev_hi=prev_hi).astype("<u2").tobytes())
            prev_hi = int(ev["t"][-1]) >> 12
            sums["n"] += len(ev["t"])
            for k in "txyp":
                sums[k] += int(ev[k].sum())
    return sums


# --- decoders: each yields (t, x, y, p) array batches in file order ----------------------------------

def _leod(path: str) -> Iterator[tuple]:
    from leod_core.events.readers import iter_recording_chunks
    for c in iter_recording_chunks(path, CHUNK):
        yield c.t, c.x, c.y, c.p


def _faery(path: str) -> Iterator[tuple]:
    import faery
    for a in faery.events_stream_from_file(path):
        yield a["t"], a["x"], a["y"], a["on"]


def _evt3(path: str) -> Iterator[tuple]:
    import evt3
    for b in evt3.decode_file_batches(path):
        yield b.timestamp, b.x, b.y, b.polarity


def _expelliarmus(path: str) -> Iterator[tuple]:
    import expelliarmus
    wizard = expelliarmus.Wizard(encoding="evt3", fpath=path, chunk_size=CHUNK)
    for a in wizard.read_chunk():
        yield a["t"], a["x"], a["y"], a["p"]


def _evlib(path: str) -> Iterator[tuple]:
    import evlib  # decodes the whole file into one (Polars) frame: no streaming
    df = evlib.load_events(path, sort=False).collect()
    t = df["t"].dt.total_microseconds().to_numpy()
    yield t, df["x"].to_numpy(), df["y"].to_numpy(), (df["polarity"].to_numpy() > 0)


DECODERS: dict[str, tuple[str, Callable[[str], Iterator[tuple]]]] = {
    "leod (faery)": ("leod_core", _leod), "faery": ("faery", _faery), "evt3": ("evt3", _evt3),
    "expelliarmus": ("expelliarmus", _expelliarmus), "evlib": ("evlib", _evlib),
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(name: str, path: str, mode: str, extra_site: list[str], queue: multiprocessing.Queue) -> None:
    sys.path.extend(extra_site)
    module, fn = DECODERS[name]
    try:
        __import__(module)
        from leod_core.events.event_chunk import EventChunk
        from leod_core.events.windows import iter_window_histograms
    except ImportError as exc:
        queue.put({"skipped": f"not installed ({exc.name})"})
        return
    # compile the histogram loops (numba cache) before the clock starts
    warm = EventChunk(t=np.arange(10, dtype=np.int64), x=np.zeros(10, np.uint16), y=np.zeros(10, np.uint16),
                      p=np.zeros(10, np.uint8))
    list(iter_window_histograms([warm], np.array([50_000]), 50_000, (H, W), downsample_2x=True))
    base_rss = _rss_mb()
    sums = {"n": 0, "t": 0, "x": 0, "y": 0, "p": 0}
    t0 = time.perf_counter()
    try:
        batches = fn(path)

        def counted() -> Iterator[EventChunk]:
            for t, x, y, p in batches:
                chunk = EventChunk(t=np.asarray(t).astype(np.int64), x=x, y=y, p=np.asarray(p).astype(np.uint8))
                sums["n"] += len(chunk)
                for k in "txyp":
                    sums[k] += int(getattr(chunk, k).sum(dtype=np.int64))
                yield chunk
        if mode == "decode":
            for _ in counted():
                pass
        else:
            ends = np.arange(50_000, int(args_seconds_us(path)) + 1, 50_000)
            for _ in iter_window_histograms(counted(), ends, 50_000, (H, W), bins=10, count_cutoff=10,
                                            downsample_2x=True, source=path):
                pass
    except Exception as exc:  # a decoder that fails on the file is a result, not a crash of the bench
        queue.put({"error": f"{type(exc).__name__}: {str(exc)[:120]}"})
        return
    queue.put({"seconds": time.perf_counter() - t0, "sums": sums, "rss_mb": _rss_mb(), "base_rss_mb": base_rss})


def args_seconds_us(path: str) -> int:
    """The recording's duration, stored beside it by :func:`main`."""
    return int(Path(path + ".duration").read_text())


def _streams(above_mb: float, decoded_mb: float) -> str:
    """'yes' if the peak above the imports stays under half the decoded arrays ('-': file too small to tell)."""
    if decoded_mb < 100:
        return "-"
    return "yes" if above_mb < decoded_mb / 2 else "no"


def run_child(name: str, path: Path, mode: str, extra_site: list[str]) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, str(path), mode, extra_site, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--seconds", type=float, default=40.0, help="recording length (> 16.8 s crosses a wrap)")
    parser.add_argument("--extra-site", action="append", default=[], help="folder appended to sys.path")
    parser.add_argument("--decoders", nargs="+", default=list(DECODERS), choices=list(DECODERS))
    parser.add_argument("--keep", type=Path, help="folder to keep the generated file in and reuse it from")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # each row as soon as it is measured
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bench_{args.events}_{args.seconds:g}s.raw"
        sums_file = path.with_suffix(".json")
        t0 = time.perf_counter()
        if path.is_file() and sums_file.is_file():
            want = json.loads(sums_file.read_text())
        else:
            want = write_recording(path, args.events, args.seconds)
            sums_file.write_text(json.dumps(want))
        Path(str(path) + ".duration").write_text(str(int(args.seconds * 1e6)))
        size_mb = path.stat().st_size / 2**20
        decoded_mb = want["n"] * 13 / 2**20  # t int64 + x, y uint16 + p uint8
        print(f"EVT 3.0 file: {want['n'] / 1e6:.1f} M events, {args.seconds:.0f} s, {W}x{H}, {size_mb:.0f} MB "
              f"({path.stat().st_size / want['n']:.2f} bytes/event) written in {time.perf_counter() - t0:.0f} s; "
              f"decoded arrays would take {decoded_mb:.0f} MB")
        print(f"{'decoder':<14} {'exact':>5} {'decode Mev/s':>12} {'+hist Mev/s':>11} {'peak RSS MB':>11} "
              f"{'above imports':>13} {'streams':>7}")
        for name in args.decoders:
            dec = run_child(name, path, "decode", args.extra_site)
            if "skipped" in dec or "error" in dec:
                print(f"{name:<14} {dec.get('skipped') or dec.get('error')}")
                continue
            hist = run_child(name, path, "hist", args.extra_site)
            exact = dec["sums"] == want
            above = max(dec["rss_mb"], hist.get("rss_mb", 0)) - dec["base_rss_mb"]
            hist_rate = f"{want['n'] / hist['seconds'] / 1e6:11.1f}" if "seconds" in hist else f"{'error':>11}"
            print(f"{name:<14} {'yes' if exact else 'NO':>5} {want['n'] / dec['seconds'] / 1e6:12.1f} {hist_rate} "
                  f"{max(dec['rss_mb'], hist.get('rss_mb', 0)):11.0f} {above:13.0f} "
                  f"{_streams(above, decoded_mb):>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
