"""Test-only encoders of Prophesee EVT 2.0 / EVT 3.0 ``.raw`` files and Gen4 (event type 12) ``.dat``
files, written from the formats' public descriptions, independent of any decoder leod uses.

EVT 3.0 (16-bit little-endian words, type in the top 4 bits): ADDR_Y 0x0 (y in bits 0..10), ADDR_X 0x2
(one event: x in bits 0..10, polarity bit 11), VECT_BASE_X 0x3 (base x + polarity of the vectors that
follow), VECT_12 0x4 / VECT_8 0x5 (a 12- / 8-bit mask of events at base..base+11 / +7; the base then
advances by 12 / 8), TIME_LOW 0x6 and TIME_HIGH 0x8 (the low and high 12 bits of a 24-bit microsecond
time that wraps at 2^24 us = 16.777216 s), EXT_TRIGGER 0xA (not a CD event). Like a sensor, the encoder
writes every TIME_HIGH step (one word per 4096 us) so a decoder can count the wraps.

EVT 2.0 (32-bit words): CD_OFF 0x0 / CD_ON 0x1 with time bits 0..5 in 22..27, x in 11..21, y in 0..10;
TIME_HIGH 0x8 with the time's bits 6..33 in 0..27.

AEDAT 4.0 (iniVation): the magic line ``#!AER-DAT4.0\r\n``, a uint32 length and an ``IOHeader``
flatbuffer (compression, data-table position, an XML description naming each stream's type
identifier and size), then packets: uint32 stream id, uint32 length, a size-prefixed flatbuffer with
file identifier ``EVTS`` holding a vector of 16-byte ``Event`` structs (int64 t, int16 x, int16 y, bool
on, 3 bytes padding).

Both ``.raw`` formats start with a text header of ``% `` lines (``% evt 3.0``, ``% format EVT3;height=H;width=W``,
``% geometry WxH``, ...) ending with ``% end``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["canonical_order", "encode_evt3", "encode_evt2", "write_raw", "raw_header", "write_dat_cd", "random_events",
           "write_aedat4"]


def random_events(n: int, duration_us: int, height: int, width: int, seed: int = 0,
                  t0_us: int = 0) -> dict[str, np.ndarray]:
    """Events with bursts (many in one microsecond on one row, for vectors) and gaps, no duplicates,
    in canonical order (see :func:`canonical_order`)."""
    rng = np.random.default_rng(seed)
    t = t0_us + np.sort(rng.integers(0, duration_us, n)).astype(np.int64)
    x = rng.integers(0, width, n)
    y = rng.integers(0, height, n)
    burst = rng.random(n) < 0.5  # half the events share a row and a time with their neighbours
    idx = np.flatnonzero(burst)
    anchor = idx - (idx % 8)
    t[idx], y[idx] = t[anchor], y[anchor]
    x[idx] = np.clip(x[anchor] + (idx % 8) * rng.integers(1, 4), 0, width - 1)
    p = rng.integers(0, 2, n)
    ev = canonical_order({"t": t, "x": x.astype(np.int64), "y": y.astype(np.int64), "p": p.astype(np.int64)})
    keep = np.ones(len(ev["t"]), bool)
    keep[1:] = np.any([np.diff(ev[k]) != 0 for k in ("t", "y", "p", "x")], axis=0)
    return {k: v[keep] for k, v in ev.items()}


def canonical_order(ev: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Events sorted by (t, y, p, x): the order the EVT 3.0 encoder writes them in."""
    order = np.lexsort((ev["x"], ev["p"], ev["y"], ev["t"]))
    return {k: np.asarray(ev[k], dtype=np.int64)[order] for k in ("t", "x", "y", "p")}


def raw_header(fmt: str, height: int, width: int) -> bytes:
    """A Metavision-style ``.raw`` header for ``fmt`` ``EVT3`` / ``EVT2``."""
    version = {"EVT3": "3.0", "EVT2": "2.0"}[fmt]
    lines = ["camera_integrator_name Prophesee", "date 2024-05-01 12:00:00", f"evt {version}",
             f"format {fmt};height={height};width={width}", f"geometry {width}x{height}",
             "integrator_name Prophesee", "plugin_name hal_plugin_imx636_evk4", "serial_number 00000000", "end"]
    return "".join(f"% {line}\n" for line in lines).encode("ascii")


def _changed(a: np.ndarray) -> np.ndarray:
    out = np.ones(len(a), bool)
    out[1:] = a[1:] != a[:-1]
    return out


def encode_evt3(ev: dict[str, np.ndarray], triggers_every: int = 0, prev_hi: int = -1) -> np.ndarray:
    """EVT 3.0 words (uint16) of events in canonical order (no duplicate event in one microsecond).

    Events of one microsecond, row and polarity in one 12-pixel block become VECT_BASE_X + VECT_12 (or
    VECT_8 when they fit in 8 pixels); a block right after a VECT_12 block reuses the advanced base; lone
    events are ADDR_X. ``triggers_every`` > 0 puts an EXT_TRIGGER word before every that many groups.
    ``prev_hi`` continues a stream whose last event had ``t >> 12 == prev_hi`` (encoding a long
    recording piece by piece); -1 starts one, from TIME_HIGH 0.
    """
    t, x, y, p = (np.asarray(ev[k], dtype=np.int64) for k in ("t", "x", "y", "p"))
    n = len(t)
    if n == 0:
        return np.zeros(0, np.uint16)
    if np.any(np.diff(t) < 0) or t[0] < 0:
        raise ValueError("events must be in time order, t >= 0")
    block = x // 12
    g_start = _changed(t) | _changed(y) | _changed(p) | _changed(block)
    if np.any(~g_start & ~(np.diff(x, prepend=-1) > 0)):
        raise ValueError("events must be in canonical order without duplicates")
    starts = np.flatnonzero(g_start)
    sizes = np.diff(np.append(starts, n))
    base = block[starts] * 12
    mask = np.bitwise_or.reduceat(np.left_shift(1, x - np.repeat(base, sizes)), starts)
    vector = sizes > 1
    use8 = vector & (x[np.append(starts[1:], n) - 1] - base < 8)
    # chained: the previous group was a VECT_12 of the same time/row/polarity and the block just before
    chained = np.zeros(len(starts), bool)
    chained[1:] = (vector[1:] & vector[:-1] & ~use8[:-1] & (block[starts[1:]] == block[starts[:-1]] + 1)
                   & ~g_start_time_row_pol(t, y, p, starts)[1:])
    hi = t[starts] >> 12
    prev_hi = np.concatenate([[prev_hi], hi[:-1]])
    n_th = hi - prev_hi
    tl = _changed(t[starts]).astype(np.int64)
    ay = _changed(y[starts]).astype(np.int64)
    trig = np.zeros(len(starts), np.int64)
    if triggers_every:
        trig[::triggers_every] = 1
    n_ev = np.where(vector, 1 + (~chained), 1)
    per_group = trig + n_th + tl + ay + n_ev
    off = np.concatenate([[0], np.cumsum(per_group)[:-1]])
    words = np.zeros(int(per_group.sum()), np.int64)
    words[off[trig == 1]] = 0xA000 | 1  # trigger channel 0, rising edge
    o = off + trig
    g_th = np.repeat(np.arange(len(starts)), n_th)
    k_th = np.arange(len(g_th)) - np.repeat(np.cumsum(n_th) - n_th, n_th)
    words[np.repeat(o, n_th) + k_th] = 0x8000 | ((prev_hi[g_th] + 1 + k_th) & 0xFFF)
    o = o + n_th
    words[o[tl == 1]] = 0x6000 | (t[starts][tl == 1] & 0xFFF)
    o = o + tl
    words[o[ay == 1]] = y[starts][ay == 1] & 0x7FF
    o = o + ay
    pol = p[starts] << 11
    single = ~vector
    words[o[single]] = 0x2000 | pol[single] | x[starts][single]
    rebase = vector & ~chained
    words[o[rebase]] = 0x3000 | pol[rebase] | base[rebase]
    o = o + rebase
    words[o[vector & use8]] = 0x5000 | (mask[vector & use8] & 0xFF)
    words[o[vector & ~use8]] = 0x4000 | (mask[vector & ~use8] & 0xFFF)
    return words.astype(np.uint16)


def g_start_time_row_pol(t: np.ndarray, y: np.ndarray, p: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group: does it start a new (time, row, polarity) run?"""
    return _changed(t[starts]) | _changed(y[starts]) | _changed(p[starts])


def encode_evt2(ev: dict[str, np.ndarray]) -> np.ndarray:
    """EVT 2.0 words (uint32) of time-ordered events: a TIME_HIGH word whenever ``t >> 6`` changes."""
    t, x, y, p = (np.asarray(ev[k], dtype=np.int64) for k in ("t", "x", "y", "p"))
    if len(t) and (np.any(np.diff(t) < 0) or t[0] < 0):
        raise ValueError("events must be in time order, t >= 0")
    th = _changed(t >> 6).astype(np.int64)
    off = np.arange(len(t)) + np.cumsum(th)
    words = np.zeros(len(t) + int(th.sum()), np.int64)
    words[off[th == 1] - 1] = (0x8 << 28) | ((t[th == 1] >> 6) & 0x0FFFFFFF)
    words[off] = (p << 28) | ((t & 0x3F) << 22) | (x << 11) | y
    return words.astype(np.uint32)


def write_raw(path: str | Path, ev: dict[str, np.ndarray], fmt: str, height: int, width: int,
              header: bytes | None = None, **kwargs: int) -> Path:
    """Write ``NAME.raw``: the header (Metavision-style unless given) then the EVT words."""
    words = encode_evt3(ev, **kwargs) if fmt == "EVT3" else encode_evt2(ev)
    path = Path(path)
    path.write_bytes((raw_header(fmt, height, width) if header is None else header) + words.astype("<u" + str(words.itemsize)).tobytes())
    return path


def write_dat_cd(path: str | Path, ev: dict[str, np.ndarray], height: int, width: int) -> Path:
    """A ``.dat`` as Metavision writes CD events: event type 12 (EventCD), size 8, t:uint32 then x in
    bits 0..13, y in 14..27 and polarity in 28..31."""
    head = (f"% Data file containing CD events\n% Date 2024-05-01 12:00:00\n% Version 2\n% Width {width}\n"
            f"% Height {height}\n% end\n").encode("ascii") + bytes([12, 8])
    rec = np.empty(len(ev["t"]), dtype=[("t", "<u4"), ("w", "<u4")])
    rec["t"] = np.asarray(ev["t"], np.int64).astype(np.uint32)
    rec["w"] = (np.asarray(ev["x"], np.int64) | (np.asarray(ev["y"], np.int64) << 14)
                | (np.asarray(ev["p"], np.int64) << 28)).astype(np.uint32)
    path = Path(path)
    path.write_bytes(head + rec.tobytes())
    return path


_AEDAT_EVENT = np.dtype({"names": ["t", "x", "y", "on"], "formats": ["<i8", "<i2", "<i2", "u1"],
                         "offsets": [0, 8, 10, 12], "itemsize": 16})


def _aedat_description(height: int, width: int) -> bytes:
    return ('<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
            '<node name="0" path="/mainloop/Recorder/outInfo/0/">'
            '<attr key="compression" type="string">NONE</attr>'
            '<attr key="originalModuleName" type="string">capture</attr>'
            '<attr key="originalOutputName" type="string">events</attr>'
            '<attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>'
            '<attr key="typeIdentifier" type="string">EVTS</attr>'
            '<node name="info" path="/mainloop/Recorder/outInfo/0/info/">'
            f'<attr key="sizeX" type="int">{width}</attr><attr key="sizeY" type="int">{height}</attr>'
            '<attr key="source" type="string">leod-test</attr></node></node></node></dv>').encode("ascii")


def _aedat_ioheader(description: bytes) -> bytes:
    """IOHeader table with only ``description`` set (compression None, no data table: the defaults)."""
    vtable = np.array([10, 8, 0, 0, 4], "<u2").tobytes()  # 3 fields, only field 2 (description) present
    head = np.array([20], "<u4").tobytes() + b"IOHE" + vtable + b"\0\0"  # table at 20
    table = np.array([20 - 8], "<i4").tobytes() + np.array([28 - 24], "<u4").tobytes()
    string = np.array([len(description)], "<u4").tobytes() + description + b"\0"
    return head + table + string


def _aedat_packet(rec: np.ndarray) -> bytes:
    """A size-prefixed ``EventPacket`` flatbuffer; the struct vector starts 8-aligned (offset 32)."""
    body = (np.array([20 - 4], "<u4").tobytes() + b"EVTS"        # root table at 20 (offset from byte 4)
            + np.array([6, 8, 4], "<u2").tobytes() + b"\0\0"      # vtable at 12: 1 field at table+4
            + np.array([20 - 12], "<i4").tobytes()               # table at 20: soffset to the vtable
            + np.array([28 - 24], "<u4").tobytes()               # field: vector at 28
            + np.array([len(rec)], "<u4").tobytes() + rec.tobytes())
    return np.array([len(body)], "<u4").tobytes() + body


def write_aedat4(path: str | Path, ev: dict[str, np.ndarray], height: int, width: int,
                 events_per_packet: int = 4096) -> Path:
    """An uncompressed AEDAT 4.0 file with one event stream (id 0), ``events_per_packet`` per packet."""
    rec = np.zeros(len(ev["t"]), _AEDAT_EVENT)
    rec["t"], rec["x"], rec["y"], rec["on"] = ev["t"], ev["x"], ev["y"], ev["p"]
    header = _aedat_ioheader(_aedat_description(height, width))
    parts = [b"#!AER-DAT4.0\r\n", np.array([len(header)], "<u4").tobytes(), header]
    for start in range(0, len(rec), events_per_packet):
        packet = _aedat_packet(rec[start:start + events_per_packet])
        parts += [np.array([0, len(packet)], "<u4").tobytes(), packet]
    path = Path(path)
    path.write_bytes(b"".join(parts))
    return path
