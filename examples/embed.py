"""Three swimfd members embedded in one Python process, on loopback.

    PYTHONPATH=pyserver python examples/embed.py [--base-port 47000] [--go-diss] [--insecure]

Node 1 prints every event it sees. Node 3 changes its labels at run time, then leaves
gracefully (node 1 prints member_left); node 2 then stops without leaving, as a
crash looks to the others (node 1 prints member_suspected, then member_failed).
Without --go-diss the nodes run with no dissemination service: news spreads by
piggybacking only (docs/embedding.md). The nodes run mutual TLS, as every
member does by default: the example makes a CA and one certificate per node in a
temporary directory (`swimfd certs` does the same from the shell); --insecure
runs them in plaintext instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path

import swimfd
from swimfd.commands.certs import make_ca, make_node
from swimfd.core.config import Config

# Short protocol periods so that the example finishes in seconds (yet tolerates a busy machine);
# the defaults suit real networks.
FAST = Config(
    cluster="embed-example", probe_interval=0.5, probe_timeout=0.25, suspicion_max_timeout_mult=2, election=False
)
WAIT_S = 20.0  # every wait below is bounded


async def wait_for(stream: swimfd.EventStream, *wanted: tuple[str, str]) -> None:
    """Print node 1's events until each wanted (event name, member) has arrived, in any order."""
    missing = set(wanted)
    async with asyncio.timeout(WAIT_S):
        async for event in stream:
            detail = f" (detector {event.detector})" if event.detector else ""
            if event.name == "member_updated":
                labels = event.extra["labels"]
                assert isinstance(labels, dict)
                detail = " labels " + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            print(f"node 1 saw {event.name} {event.member}{detail}", flush=True)
            missing.discard((event.name, event.member))
            if not missing:
                return
    raise SystemExit(f"the event stream ended before {sorted(missing)}")


def certificates(directory: Path) -> str:
    """A cluster CA and a certificate for each of the three nodes, naming its id and 127.0.0.1."""
    make_ca(directory, cluster=FAST.cluster)
    for k in ("1", "2", "3"):
        make_node(directory, k, ["127.0.0.1"])
    return str(directory)


async def main(base_port: int, go_diss: bool, tls_dir: str | None) -> int:
    addrs = [f"127.0.0.1:{base_port + k}" for k in (1, 2, 3)]
    security = {"tls_dir": tls_dir} if tls_dir is not None else {"insecure": True}
    opts = {"config": FAST, "dissemination": go_diss, "log_level": "error", **security}
    async with contextlib.AsyncExitStack() as nodes:  # stops every node however main ends
        node1 = await nodes.enter_async_context(swimfd.Node("1", addrs[0], **opts))  # type: ignore[arg-type]
        events = node1.events()  # subscribe before the others join, so that no event is missed
        node2 = await nodes.enter_async_context(swimfd.Node("2", addrs[1], seeds=[addrs[0]], **opts))  # type: ignore[arg-type]
        node3 = await nodes.enter_async_context(
            swimfd.Node("3", addrs[2], seeds=[addrs[0]], labels={"role": "worker"}, **opts)  # type: ignore[arg-type]
        )
        await wait_for(events, ("member_joined", "2"), ("member_joined", "3"))

        node3.set_labels({"role": "worker", "zone": "z1"})  # spreads with a new incarnation of node 3
        # Node 1 also gets a member_updated event (printed below); members() is the state to poll.
        async with asyncio.timeout(WAIT_S):
            while next(dict(m.labels) for m in node1.members() if m.id == "3") != {"role": "worker", "zone": "z1"}:
                await asyncio.sleep(0.05)
        print("node 1 sees node 3's labels role=worker,zone=z1", flush=True)

        await node3.stop()  # graceful: the others hear member_left
        await wait_for(events, ("member_left", "3"))
        await node2.stop(leave=False)  # no goodbye: the others must detect it
        await wait_for(events, ("member_failed", "2"))

        for m in sorted(node1.members(), key=lambda m: m.id):
            labels = ",".join(f"{k}={v}" for k, v in sorted(m.labels.items())) or "-"
            print(f"member {m.id} {m.addr} {m.state} incarnation={m.incarnation} labels={labels}")
        print(f"events dropped: {events.dropped}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-port", type=int, default=47000, help="node k listens on base + k (default 47000)")
    parser.add_argument("--go-diss", action="store_true", help="start a go-diss child per node (needs bin/go-diss)")
    parser.add_argument("--insecure", action="store_true", help="plaintext instead of mutual TLS")
    args = parser.parse_args()
    if args.insecure:
        sys.exit(asyncio.run(main(args.base_port, args.go_diss, None)))
    with tempfile.TemporaryDirectory(prefix="swimfd-embed-") as tmp:
        sys.exit(asyncio.run(main(args.base_port, args.go_diss, certificates(Path(tmp)))))
