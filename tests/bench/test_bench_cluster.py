import random
import socket

from swimfd.bench.cluster import DISS_PORT_OFFSET, member_ports, pick_ports, port_is_free


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
