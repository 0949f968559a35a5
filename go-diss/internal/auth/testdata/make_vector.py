"""Writes vector.json: MAC test vectors computed by the Python protobuf runtime.

The Go tests check their own MAC against these, so the two implementations
are tested against each other rather than against themselves. Run from the
repo root: .venv/bin/python go-diss/internal/auth/testdata/make_vector.py
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from google.protobuf import json_format
from swimfd.pb import swim_pb2 as pb

KEY = "swimfd-vector-key-1"

MESSAGES: list[tuple[str, dict[str, object]]] = [
    (
        "Notice",
        {
            "header": {"version": 1, "cluster": "vector", "sender": "n2", "senderAddr": "127.0.0.1:50062"},
            "kind": "FAILED",
            "update": {
                "member": {
                    "id": "n3",
                    "addr": "127.0.0.1:50053",
                    "dissAddr": "127.0.0.1:50063",
                    "incarnation": "7",
                    "state": "DEAD",
                    "heartbeat": "1234",
                    # several labels: deterministic serialization must order map entries
                    "labels": {"zone": "b", "az": "1", "rack": "r17"},
                    "priority": "-5",
                },
                "from": "n1",
                "detector": "hybrid",
            },
            "origin": "n1",
        },
    ),
    (
        "JoinRequest",
        {
            "header": {"version": 1, "cluster": "vector", "sender": "n6", "senderAddr": "127.0.0.1:50056"},
            "member": {"id": "n6", "addr": "127.0.0.1:50056", "dissAddr": "127.0.0.1:50066", "state": "ALIVE"},
        },
    ),
    (
        "FailureReport",
        {
            "header": {"version": 1, "cluster": "vector", "sender": "n1", "senderAddr": "127.0.0.1:50051"},
            "kind": "LEFT_CLUSTER",
            "update": {"member": {"id": "n4", "incarnation": "2", "state": "LEFT"}, "from": "n4"},
        },
    ),
]


def main() -> None:
    vectors = []
    for type_name, fields in MESSAGES:
        msg = json_format.ParseDict(fields, getattr(pb, type_name)())
        unsigned = msg.SerializeToString(deterministic=True)
        mac = hmac.new(KEY.encode(), unsigned, hashlib.sha256).hexdigest()
        vectors.append(
            {
                "type": f"swimfd.v1.{type_name}",
                "message": fields,
                "unsigned_hex": unsigned.hex(),
                "mac_hex": mac,
            }
        )
    out = {
        "scheme": "mac = HMAC-SHA256(key, deterministic serialization with header.mac empty)",
        "key": KEY,
        "vectors": vectors,
    }
    path = Path(__file__).with_name("vector.json")
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
