"""realtime/outlet.Outlet's states with a fake socket: direct sends, a send that waits, full queues, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from realtime.direct import EncodedText
from realtime.outlet import CLOSE_SERVER_ERROR, CLOSE_TOO_SLOW, Outlet, Replay


class FakeSocket:
    """A socket's send and close; a send waits while `held` is set, and raises while `broken` is."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: list[int] = []
        self.held: asyncio.Event | None = None
        self.broken: str | None = None  # "before" or "after" waiting
        self.replayed: list[Replay] = []

    async def send_text(self, text: str) -> None:
        if self.broken == "before":
            raise ConnectionResetError("gone")
        if self.held is not None:
            await self.held.wait()
            if self.broken == "after":
                raise ConnectionResetError("gone while waiting")
        self.sent.append(text)

    async def close(self, code: int) -> None:
        self.closed.append(code)

    async def read_replay(self, outlet: Outlet, replay: Replay) -> AsyncGenerator[str, None]:
        self.replayed.append(replay)
        for position in range(replay.after + 1, replay.through + 1):
            yield f"replayed {position}"

    def start(self, outlet: Outlet) -> None:
        outlet.start(self.send_text, self.close, self.read_replay)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_frames_before_start_wait_and_go_out_in_order_at_start() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=10)
        outlet.push("greeting")
        outlet.push("state")
        assert socket.sent == []
        socket.start(outlet)
        assert socket.sent == ["greeting", "state"]  # in the start call itself, no task

    asyncio.run(scenario())


def test_a_socket_that_keeps_up_is_written_in_the_pushing_call() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=10)
        socket.start(outlet)
        outlet.push("one")
        assert socket.sent == ["one"]
        outlet.push("two")
        assert socket.sent == ["one", "two"]
        assert outlet._sender is None

    asyncio.run(scenario())


def test_a_send_that_waits_queues_what_follows_and_the_socket_is_direct_again_after() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=10)
        socket.start(outlet)
        socket.held = asyncio.Event()
        outlet.push("slow")
        outlet.push("behind it")
        await settle()
        assert socket.sent == []
        socket.held.set()
        await settle()
        assert socket.sent == ["slow", "behind it"]
        assert outlet._sender is None and outlet._queue is None
        socket.held = None
        outlet.push("direct again")
        assert socket.sent[-1] == "direct again"

    asyncio.run(scenario())


def test_a_full_queue_closes_with_4008_once_the_frame_in_flight_is_out() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=2)
        socket.start(outlet)
        socket.held = asyncio.Event()
        for number in range(4):
            outlet.push(f"frame {number}")
        assert outlet.closing_code == CLOSE_TOO_SLOW
        outlet.push("after the close")  # ignored
        socket.held.set()
        await settle()
        assert socket.sent == ["frame 0"]  # the one in flight; the queued ones are dropped
        assert socket.closed == [CLOSE_TOO_SLOW]

    asyncio.run(scenario())


def test_a_send_that_fails_at_once_marks_the_socket_gone_without_a_close() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=10)
        socket.start(outlet)
        socket.broken = "before"
        outlet.push("lost")
        assert outlet.closing_code == 1006
        socket.broken = None
        outlet.push("not sent")
        await settle()
        assert socket.sent == [] and socket.closed == []

    asyncio.run(scenario())


def test_a_send_that_fails_after_waiting_closes_with_1011() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=10)
        socket.start(outlet)
        socket.held, socket.broken = asyncio.Event(), "after"
        outlet.push("lost")
        outlet.push("queued")
        socket.held.set()
        await settle()
        assert outlet.closing_code == 1006
        assert socket.sent == [] and socket.closed == [CLOSE_SERVER_ERROR]
        assert outlet._sender is None

    asyncio.run(scenario())


def test_a_replay_is_read_from_the_outbox_in_its_place_in_the_queue() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=10)
        outlet.push("greeting")
        outlet.replay(3, 5)
        outlet.push("live 6")
        socket.start(outlet)
        assert socket.sent == ["greeting"]  # the replay needs the sender
        await settle()
        assert socket.sent == ["greeting", "replayed 4", "replayed 5", "live 6"]
        assert socket.replayed == [Replay(3, 5)]

    asyncio.run(scenario())


def test_an_event_is_delivered_once_and_only_after_a_join() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"orders", "tables"}, max_queue=10)
        socket.start(outlet)
        outlet.last_position = 0
        assert outlet.accepts(("orders", "tables"), 1)
        assert outlet.deliver(1, EncodedText("event 1")) and not outlet.deliver(1, EncodedText("event 1 again"))
        outlet.channels.add("room")
        outlet.joined_after["room"] = 5
        assert not outlet.accepts(("room",), 5) and outlet.accepts(("room",), 6)
        assert not outlet.accepts(("elsewhere",), 7)
        # As the hub fans out: an event of the late-joined channel from before the join is not sent.
        assert not outlet.deliver(5, EncodedText("room event 5"), "room")
        assert outlet.deliver(6, EncodedText("room event 6"), "room")
        assert socket.sent == ["event 1", "room event 6"]

    asyncio.run(scenario())


def test_stop_cancels_a_waiting_sender() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=10)
        socket.start(outlet)
        socket.held = asyncio.Event()
        outlet.push("stuck")
        await settle()
        await outlet.stop()
        assert outlet._sender is None and outlet.closing_code == 1000
        assert socket.closed == []

    asyncio.run(scenario())


def test_an_event_goes_as_its_encoded_frame_while_the_writer_takes_it_and_the_ordinary_way_else() -> None:
    async def scenario() -> None:
        socket, outlet = FakeSocket(), Outlet("c", {"a"}, max_queue=10)
        written: list[bytes] = []
        taking = [True]

        def write_frame(frame: bytes) -> bool:
            if taking[0]:
                written.append(frame)
            return taking[0]

        outlet.start(socket.send_text, socket.close, socket.read_replay, write_frame)
        outlet.last_position = 0
        event = EncodedText("event 1")
        outlet.deliver(1, event)
        assert written == [event.frame] and socket.sent == []
        assert event.frame == b"\x81\x07event 1"  # FIN + text, unmasked, length 7
        taking[0] = False  # the transport's buffer is full, or a close was sent
        outlet.deliver(2, EncodedText("event 2"))
        assert socket.sent == ["event 2"]
        taking[0] = True
        socket.held = asyncio.Event()
        outlet.push("a reply that waits")
        outlet.deliver(3, EncodedText("event 3"))  # behind the reply, in order: not written past it
        socket.held.set()
        await settle()
        assert socket.sent == ["event 2", "a reply that waits", "event 3"] and len(written) == 1

    asyncio.run(scenario())
