import random
import socket
from pathlib import Path

from swimfd.bench.cluster import DISS_PORT_OFFSET, Cluster, member_ports, pick_ports, port_is_free


def test_swimfd_ports_leave_room_for_go_diss_at_plus_ten() -> None:
    ports = member_ports("swim", 40, 41000)
    used = set(ports) | {p + DISS_PORT_OFFSET for p in ports}
    assert len(used) == 80  # no detector port is another member's go-diss port


def test_memberlist_ports_are_consecutive() -> None:
    assert member_ports("memberlist", 3, 41000) == [41000, 41001, 41002]


def test_pick_ports_avoids_a_busy_port() -> None:
    rng_seed = 5
    ports = pick_ports("memberlist", 3, random.Random(rng_seed))
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[0]))
        s.listen()
        assert not port_is_free(ports[0])
        again = pick_ports("memberlist", 3, random.Random(rng_seed))
        assert ports[0] not in again


def test_secured_members_get_mutual_tls_or_a_shared_keyring(tmp_path: Path) -> None:
    addrs = ["127.0.0.1:41001", "127.0.0.1:41002"]
    plain = Cluster("swim", 2, 0.0, tmp_path, tmp_path, 1).command(0, addrs)
    assert "--insecure" in plain and "--tls-dir" not in plain
    tls = Cluster("swim", 2, 0.0, tmp_path, tmp_path, 1, secure=True).command(1, addrs)
    assert tls[tls.index("--tls-dir") + 1] == str(tmp_path / "tls") and "--insecure" not in tls
    ml = Cluster("memberlist", 2, 0.0, tmp_path, tmp_path, 1, secure=True)
    keys = {c[c.index("--keyring-key") + 1] for c in (ml.command(0, addrs), ml.command(1, addrs))}
    assert len(keys) == 1 and len(bytes.fromhex(keys.pop())) == 32  # one AES-256 key for the whole run
    assert "--keyring-key" not in Cluster("memberlist", 2, 0.0, tmp_path, tmp_path, 1).command(0, addrs)
