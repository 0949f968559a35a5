"""Hand-written numpy varint encoder versus the protobuf library for HeartbeatGossip (not a test).

    .venv/bin/python bench/heartbeat_encoding.py [--sizes 100 1000 10000] [--reps 300]

The gossiper once packed its counter arrays into protobuf varints with numpy and parsed the
concatenated wire bytes into the outgoing message. That encoder is reproduced below, as it was,
so the comparison that removed it can be rerun. For n members (ids in ring order, realistic
counters up to 2^20, every seventh incarnation non-zero) it first checks that both sides produce
byte-identical wire bytes and equal messages, and that the library decodes the hand-written bytes
to the same content; then it prints the median milliseconds per call, each rep running every
variant once in turn so that load on the machine hits both alike:

  build message      what the gossiper does every round: cached ids and incarnations fields plus
                     the current counters, parsed into a pb.HeartbeatGossip (what the node sends)
  build, no cache    library only: pb.HeartbeatGossip(ids=..., ...) from Python lists
  wire bytes         encoding alone, without a message object (the gossiper must return a message)
  incarnations       re-encoding the cached incarnations field (after a restart or a view change)
  ids length         where the ids field ends in a received message (first sight of a foreign list)

Decoding needs no row: the hand-written code never decoded; both sides parse with the library.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pyserver"))

from swimfd.core.heartbeat import encoding
from swimfd.pb import swim_pb2 as pb

# ---------------------------------------------------------------- the hand-written encoder, as it was

_INCARNATIONS_TAG = bytes([(2 << 3) | 2])  # HeartbeatGossip.incarnations, packed (wire type 2)
_HEARTBEATS_TAG = bytes([(3 << 3) | 2])  # HeartbeatGossip.heartbeats, packed
_ROUND_TAG = bytes([(4 << 3) | 0])  # HeartbeatGossip.round, varint (wire type 0)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, packed: bytes) -> bytes:
    """A length-delimited field; proto3 omits an empty packed field."""
    return tag + _varint(len(packed)) + packed if packed else b""


def _packed_uint64(values: np.ndarray) -> bytes:
    """Protobuf varint encoding of every element, concatenated (the body of a packed field)."""
    if len(values) == 0:
        return b""
    values = values.astype(np.uint64, copy=False)
    width = max(1, (int(values.max()).bit_length() + 6) // 7)  # bytes of the largest value
    if width == 1:
        return values.astype(np.uint8).tobytes()
    groups = np.empty((len(values), width), dtype=np.uint8)
    nbytes = np.ones(len(values), dtype=np.int64)
    for g in range(width):
        groups[:, g] = (values >> np.uint64(7 * g)) & np.uint64(0x7F)
        if g:
            nbytes += values >= np.uint64(1 << (7 * g))
    col = np.arange(width)[None, :]
    groups |= (col < (nbytes[:, None] - 1)).view(np.uint8) << 7  # continuation bits
    if nbytes.min() == width:
        return groups.tobytes()
    return groups[col < nbytes[:, None]].tobytes()


def hand_bytes(ids_field: bytes, incs_field: bytes, hb: np.ndarray, round_no: int) -> bytes:
    return b"".join((ids_field, incs_field, _field(_HEARTBEATS_TAG, _packed_uint64(hb)), _ROUND_TAG, _varint(round_no)))


def hand_build(ids_field: bytes, incs_field: bytes, hb: np.ndarray, round_no: int) -> pb.HeartbeatGossip:
    return pb.HeartbeatGossip.FromString(hand_bytes(ids_field, incs_field, hb, round_no))


def hand_incarnations(inc: np.ndarray) -> bytes:
    return _field(_INCARNATIONS_TAG, _packed_uint64(inc))


def hand_ids_length(msg: pb.HeartbeatGossip, data: bytes, in_inc: np.ndarray, in_hb: np.ndarray) -> int | None:
    # in_inc, in_hb: the message's arrays, which the merge had already converted (not timed)
    rest = b"".join(
        (
            _field(_INCARNATIONS_TAG, _packed_uint64(in_inc)),
            _field(_HEARTBEATS_TAG, _packed_uint64(in_hb)),
            _ROUND_TAG + _varint(msg.round) if msg.round else b"",
        )
    )
    return len(data) - len(rest) if data.endswith(rest) else None


# ---------------------------------------------------------------- the comparison


def medians_ms(variants: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(reps):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) * 1e3 for name, s in samples.items()}


def compare(n: int, reps: int) -> None:
    ids = sorted(str(i) for i in range(1, n + 1))  # the simulator's ids, in ring (sorted) order
    rng = np.random.default_rng(1)
    hb = rng.integers(1 << 10, 1 << 20, n).astype(np.uint64)
    inc = np.zeros(n, dtype=np.uint64)
    inc[::7] = rng.integers(1, 1 << 40, len(inc[::7])).astype(np.uint64)
    round_no = 123_456
    ids_field = encoding.ids_field(ids)
    hand_incs, lib_incs = hand_incarnations(inc), encoding.incarnations_field(inc)

    # Same wire bytes, same message, and the library decodes the hand-written bytes to the content.
    reference = pb.HeartbeatGossip(ids=ids, incarnations=inc.tolist(), heartbeats=hb.tolist(), round=round_no)
    wire = hand_bytes(ids_field, hand_incs, hb, round_no)
    lib_msg = encoding.build(ids_field, lib_incs, hb, round_no)
    assert hand_incs == lib_incs
    assert wire == reference.SerializeToString() == lib_msg.SerializeToString()
    decoded = pb.HeartbeatGossip.FromString(wire)
    assert decoded == reference == lib_msg == hand_build(ids_field, hand_incs, hb, round_no)
    assert list(decoded.heartbeats) == hb.tolist() and list(decoded.incarnations) == inc.tolist()
    in_inc = np.array(reference.incarnations, dtype=np.uint64)
    in_hb = np.array(reference.heartbeats, dtype=np.uint64)
    assert hand_ids_length(reference, wire, in_inc, in_hb) == encoding.ids_length(reference, wire) == len(ids_field)

    rows = {
        "build message": (
            lambda: hand_build(ids_field, hand_incs, hb, round_no),
            lambda: encoding.build(ids_field, lib_incs, hb, round_no),
        ),
        "build, no cache": (
            lambda: hand_build(encoding.ids_field(ids), hand_incarnations(inc), hb, round_no),
            lambda: pb.HeartbeatGossip(ids=ids, incarnations=inc.tolist(), heartbeats=hb.tolist(), round=round_no),
        ),
        "wire bytes": (
            lambda: hand_bytes(ids_field, hand_incs, hb, round_no),
            lambda: encoding.build(ids_field, lib_incs, hb, round_no).SerializeToString(),
        ),
        "incarnations": (lambda: hand_incarnations(inc), lambda: encoding.incarnations_field(inc)),
        "ids length": (
            lambda: hand_ids_length(reference, wire, in_inc, in_hb),
            lambda: encoding.ids_length(reference, wire),
        ),
    }
    variants = {f"{row}/{side}": fn for row, fns in rows.items() for side, fn in zip(("hand", "lib"), fns, strict=True)}
    ms = medians_ms(variants, reps)
    print(f"n={n} message={len(wire)} bytes (checked: identical bytes, equal messages)")
    print(f"  {'':18} {'hand ms':>9} {'library ms':>11} {'hand speed-up':>14}")
    for row in rows:
        hand, lib = ms[f"{row}/hand"], ms[f"{row}/lib"]
        print(f"  {row:18} {hand:9.4f} {lib:11.4f} {lib / hand:13.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    ap.add_argument("--reps", type=int, default=300)
    args = ap.parse_args()
    for n in args.sizes:
        compare(n, args.reps)


if __name__ == "__main__":
    main()
