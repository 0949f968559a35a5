"""Embedding a swimfd member in a Python program (docs/embedding.md).

    async with swimfd.Node("1", "127.0.0.1:7001", seeds=["127.0.0.1:7000"]) as node:
        async for event in node.events():
            print(event.name, event.member)

``Node`` wraps the same runtime as ``swimfd run`` (swimfd.runtime.process) in the
caller's event loop; events and members come back as the typed records of
``records.py``.
"""

from swimfd.api.node import Node
from swimfd.api.records import Event, Member
from swimfd.api.stream import EventStream
from swimfd.runtime.process import StartError

__all__ = ["Event", "EventStream", "Member", "Node", "StartError"]
