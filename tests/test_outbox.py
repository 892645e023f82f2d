"""The event pipeline's guarantees: nothing from a rolled-back change, nothing lost, gapless order."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence

import pytest

from core.auth import Actor
from core.shapes import OrderJSON
from core.values import utc_now
from domain import orders
from events import outbox
from events.broker import MAX_NOTIFY_TEXT
from realtime import hub as hub_module
from realtime.outlet import Outlet, Replay
from tests.factory import create_order, feed_url, make_company, ok

COUNT_EVENTS = "SELECT COUNT(*) AS n FROM events WHERE company_id = :company_id"
COUNT_ORDERS = "SELECT COUNT(*) AS n FROM orders WHERE company_id = :company_id"
COUNT_TASKS = "SELECT COUNT(*) AS n FROM kitchen_tasks WHERE company_id = :company_id"
POSITIONS = "SELECT position FROM events WHERE company_id = :company_id ORDER BY position"
CHANNELS = "SELECT channels FROM events WHERE company_id = :company_id"
UNPUBLISHED = "SELECT COUNT(*) AS n FROM events WHERE company_id = :company_id AND published = 0"
LAST_POSITION = "SELECT last_position AS n FROM event_counters WHERE company_id = :company_id"
EVENTS_AFTER = """
SELECT position, channels, payload FROM events WHERE company_id = :company_id AND position > :after ORDER BY position
"""


def scalar(client, query: str, company_id: str) -> int:
    services = client.app_state["services"]
    return client.portal.call(services.database.fetch_one, query, {"company_id": company_id})["n"]


def actor_of(cafe, name: str) -> Actor:
    person = cafe.people[name]
    return Actor(person.id, person.role, cafe.id, person.branch)


def order_body(cafe, table: str = "a1") -> dict:
    return {"table": cafe.tables[table]["id"], "items": [{"menu_item": cafe.menu["pizza"]["id"], "quantity": 2}]}


def test_a_change_that_fails_after_its_writes_publishes_nothing(client, monkeypatch):
    cafe = make_company(client)
    services = client.app_state["services"]
    events_before = scalar(client, COUNT_EVENTS, cafe.id)

    async def explode(change, table_id):
        raise RuntimeError("the disk is on fire")

    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        monkeypatch.setattr(orders, "refresh_table_status", explode)
        with pytest.raises(RuntimeError):
            client.portal.call(orders.create_order, services, actor_of(cafe, "waiter"), order_body(cafe))
        monkeypatch.undo()
        assert scalar(client, COUNT_EVENTS, cafe.id) == events_before
        assert scalar(client, COUNT_ORDERS, cafe.id) == 0
        assert scalar(client, COUNT_TASKS, cafe.id) == 0
        assert (
            ok(client.get(f"/api/cafe/tables/{cafe.tables['a1']['id']}/", headers=cafe.waiter.auth))["status"] == "free"
        )
        order = create_order(client, cafe)
        first = ws.receive_json()
        assert first["type"] == "order_created" and first["data"]["order"]["id"] == order["id"]
        assert first["event_id"] == events_before + 1
        assert order["number"] == 1


def test_a_failed_publish_never_fails_the_request_and_the_relay_delivers(client, monkeypatch):
    cafe = make_company(client)
    services = client.app_state["services"]

    async def broker_down(channel, message):
        raise ConnectionError("broker unreachable")

    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        monkeypatch.setattr(services.broker, "publish", broker_down)
        order = create_order(client, cafe)
        assert scalar(client, UNPUBLISHED, cafe.id) > 0
        monkeypatch.undo()
        published = client.portal.call(outbox.relay_unpublished, services, utc_now())
        assert published > 0 and scalar(client, UNPUBLISHED, cafe.id) == 0
        created, busy = ws.receive_json(), ws.receive_json()
        assert (created["type"], created["data"]["order"]["id"]) == ("order_created", order["id"])
        assert busy["type"] == "table_status_changed" and busy["event_id"] > created["event_id"]


def test_events_lost_by_the_broker_still_arrive_in_order(client, monkeypatch):
    cafe = make_company(client)
    services = client.app_state["services"]

    async def swallow(channel, message):
        return None

    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        monkeypatch.setattr(services.broker, "publish", swallow)
        lost = create_order(client, cafe)
        monkeypatch.undo()
        after = create_order(client, cafe, table="a2")
        received = [ws.receive_json() for _ in range(4)]
        assert [event["data"].get("order", {}).get("id") for event in received[::2]] == [lost["id"], after["id"]]
        assert [event["type"] for event in received] == ["order_created", "table_status_changed"] * 2
        positions = [event["event_id"] for event in received]
        assert positions == sorted(set(positions))


def test_concurrent_writers_get_gapless_positions_in_commit_order(client):
    cafe = make_company(client)
    services = client.app_state["services"]
    waiter = actor_of(cafe, "waiter")

    async def many() -> Sequence[OrderJSON]:
        return await asyncio.gather(
            *(orders.create_order(services, waiter, order_body(cafe, "a1" if i % 2 else "a2")) for i in range(12))
        )

    with client.websocket_connect(feed_url("orders", cafe.owner)) as ws:
        ws.receive_json()
        created = client.portal.call(many)
        positions = [
            row["position"]
            for row in client.portal.call(services.database.fetch_all, POSITIONS, {"company_id": cafe.id})
        ]
        assert positions == list(range(1, len(positions) + 1))
        assert sorted(order["number"] for order in created) == list(range(1, 13))
        received = [ws.receive_json() for _ in range(12 + 2)]
        assert [event["event_id"] for event in received] == sorted(event["event_id"] for event in received)
        assert {event["data"]["order"]["id"] for event in received if event["type"] == "order_created"} == {
            order["id"] for order in created
        }


def test_a_reads_first_change_reads_beside_a_writer_and_writes_after_it(client):
    services = client.app_state["services"]
    if services.database.is_sqlite:
        pytest.skip("SQLite's BEGIN IMMEDIATE holds the only write lock from the start: nothing to read beside")
    cafe = make_company(client)
    company = {"company_id": cafe.id}

    async def scenario() -> tuple[bool, bool, int]:
        holding, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with services.change(cafe.id) as change:
                holding.set()
                await release.wait()
                await change.emit("test", ["orders"], {"type": "test"})

        held = asyncio.create_task(holder())
        await holding.wait()
        # Should the reads wait for the lock after all, this ends the wait (and the test fails) instead of a hang.
        asyncio.get_running_loop().call_later(3, release.set)
        async with services.change(cafe.id, reads_first=True) as change:
            await asyncio.wait_for(change.reads.fetch_one(COUNT_ORDERS, company), 5)
            locking = asyncio.create_task(change.lock())
            await asyncio.sleep(0.3)
            waited_for_the_writer = not locking.done()
            release.set()
            await asyncio.wait_for(locking, 5)
            await held
            await change.emit("test", ["orders"], {"type": "test"})
        row = await services.database.fetch_one(LAST_POSITION, company)
        return waited_for_the_writer, held.done(), row["n"]

    waited_for_the_writer, holder_done, last_position = client.portal.call(scenario)
    # The read ran while the other change held the lock; the lock itself waited for that change's commit.
    assert waited_for_the_writer and holder_done
    assert last_position == scalar(client, COUNT_EVENTS, cafe.id)


def test_a_reads_first_change_writes_and_emits_nothing_before_its_lock(client):
    cafe = make_company(client)
    services = client.app_state["services"]
    before = scalar(client, COUNT_EVENTS, cafe.id), scalar(client, LAST_POSITION, cafe.id)

    async def attempts() -> list[str]:
        refused = []
        async with services.change(cafe.id, reads_first=True) as change:
            assert (await change.reads.fetch_one(COUNT_ORDERS, {"company_id": cafe.id}))["n"] == 0
            for attempt in (
                lambda: change.db.fetch_one(COUNT_ORDERS, {"company_id": cafe.id}),
                lambda: change.reads.execute(
                    "DELETE FROM orders WHERE company_id = :company_id", {"company_id": cafe.id}
                ),
                lambda: change.reads.fetch_one("UPDATE orders SET guests = 2 RETURNING id"),
                lambda: change.emit("test", ["orders"], {"type": "test"}),
            ):
                with pytest.raises(RuntimeError) as error:
                    await attempt()
                refused.append(str(error.value))
        return refused

    refused = client.portal.call(attempts)
    assert len(refused) == 4 and all("lock" in reason for reason in refused)
    assert (scalar(client, COUNT_EVENTS, cafe.id), scalar(client, LAST_POSITION, cafe.id)) == before


def test_old_events_are_pruned_and_a_resume_from_before_them_must_resync(client):
    cafe = make_company(client)
    services = client.app_state["services"]
    create_order(client, cafe)
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        kept_from = create_order(client, cafe, table="a2")
        first_kept = ws.receive_json()
        assert first_kept["data"]["order"]["id"] == kept_from["id"]
    before_second = first_kept["event_id"] - 1
    # Everything up to the second order's first event is older than the retention.
    cutoff = client.portal.call(
        services.database.fetch_one,
        "SELECT created_at FROM events WHERE company_id = :company_id AND position = :position",
        {"company_id": cafe.id, "position": first_kept["event_id"]},
    )["created_at"]
    assert client.portal.call(outbox.prune, services, cutoff) == 1
    with client.websocket_connect(feed_url("orders", cafe.waiter, last_event_id="1")) as ws:
        ws.receive_json()
        assert ws.receive_json() == {"type": "resync_required"}
    with client.websocket_connect(feed_url("orders", cafe.waiter, last_event_id=str(before_second))) as ws:
        ws.receive_json()
        assert ws.receive_json() == first_kept


def test_a_long_backlog_is_pruned_a_batch_at_a_time(client):
    cafe = make_company(client)
    services = client.app_state["services"]
    create_order(client, cafe)
    create_order(client, cafe, table="a2")
    total = scalar(client, COUNT_EVENTS, cafe.id)
    assert total > 4
    assert client.portal.call(outbox.prune, services, utc_now(seconds_ago=-60), 3) == 1
    assert scalar(client, COUNT_EVENTS, cafe.id) == total - 3
    counter = client.portal.call(outbox.read_counter, services.database, cafe.id)
    assert counter == (total, 3)
    while client.portal.call(outbox.prune, services, utc_now(seconds_ago=-60), 3):
        pass
    assert scalar(client, COUNT_EVENTS, cafe.id) == 0
    assert client.portal.call(outbox.read_counter, services.database, cafe.id) == (total, total)


def test_a_replay_pruned_under_it_ends_with_resync_required(client, monkeypatch):
    cafe = make_company(client)
    services, hub = client.app_state["services"], client.app_state["hub"]
    for table in ("a1", "a2"):
        create_order(client, cafe, table=table)
    last = scalar(client, "SELECT MAX(position) AS n FROM events WHERE company_id = :company_id", cafe.id)
    monkeypatch.setattr(hub_module, "REPLAY_PAGE", 1)
    outlet = Outlet(cafe.id, set(event_channels(client, cafe.id)), max_queue=10)

    async def replay_with_a_prune_after_the_first_page() -> list[dict]:
        texts = hub.replay(outlet, Replay(0, last))
        first = await anext(texts)
        await outbox.prune(services, utc_now())
        return [json.loads(first)] + [json.loads(text) async for text in texts]

    sent = client.portal.call(replay_with_a_prune_after_the_first_page)
    assert sent[0]["event_id"] == 1
    assert sent[1:] == [{"type": "resync_required"}]


def event_channels(client, company_id: str) -> set[str]:
    services = client.app_state["services"]
    rows = client.portal.call(services.database.fetch_all, CHANNELS, {"company_id": company_id})
    return {channel for row in rows for channel in row["channels"].split(" ")}


def test_an_envelope_over_the_brokers_limit_in_bytes_travels_as_positions_only():
    """NOTIFY counts bytes: 4000 Cyrillic characters are 8000 bytes, over the limit though under it in characters;
    text that does not compress under the limit either (random letters) travels as positions only."""
    cyrillic = outbox.OutboxEvent(
        "company", 7, ("cafe_orders_company",), json.dumps({"title": "щ" * 4000}, ensure_ascii=False)
    )
    compressed = outbox.envelope([cyrillic], MAX_NOTIFY_TEXT, 1.0)
    assert len(compressed) < MAX_NOTIFY_TEXT < len(cyrillic.text.encode())
    assert outbox.parse_envelope(compressed).entries == [(cyrillic.channels, cyrillic.text)]
    noise = outbox.OutboxEvent("company", 7, ("c",), json.dumps({"title": secrets.token_urlsafe(9000)}))
    message = outbox.envelope([noise], MAX_NOTIFY_TEXT, 1.0)
    assert message == "7|7|1.000000|"
    assert outbox.parse_envelope(message).entries is None
    small = outbox.OutboxEvent("company", 8, ("cafe_orders_company",), json.dumps({"title": "щ" * 100}))
    assert outbox.parse_envelope(outbox.envelope([small], MAX_NOTIFY_TEXT, 1.0)).entries == [
        (small.channels, small.text)
    ]


def test_a_broken_envelope_is_refused_as_malformed_whatever_is_broken():
    """The hub drops what parse_envelope refuses (ValueError) and goes on; nothing else may escape it."""
    for broken in ("1|1|0.0|z:AAAA", "1|1|0.0|z:%%%", "1|2|0.0|[]", "1|1|0.0|[[", "nonsense"):
        with pytest.raises(ValueError):
            outbox.parse_envelope(broken)


def test_an_ordinary_order_travels_whole_over_notify(client):
    """A 1-3 line order's change (11 events and more, in three dialects: 7 KB and up) fits NOTIFY once compressed,
    so the other processes need not read it back from the outbox."""
    cafe = make_company(client)
    services = client.app_state["services"]
    uncompressed = []
    for lines in ([("pizza", 1)], [("pizza", 2), ("coffee", 1)], [("pizza", 1), ("coffee", 2), ("pizza", 3)]):
        before = scalar(client, LAST_POSITION, cafe.id)
        create_order(client, cafe, items=lines)
        rows = client.portal.call(services.database.fetch_all, EVENTS_AFTER, {"company_id": cafe.id, "after": before})
        events = [
            outbox.OutboxEvent(cafe.id, row["position"], tuple(row["channels"].split(" ")), row["payload"])
            for row in rows
        ]
        message = outbox.envelope(events, MAX_NOTIFY_TEXT, 1.0)
        uncompressed.append(len(outbox.envelope(events, 10**9, 1.0).encode()))
        assert len(message.encode()) <= MAX_NOTIFY_TEXT
        assert outbox.parse_envelope(message).entries == [(event.channels, event.text) for event in events]
    assert max(uncompressed) > MAX_NOTIFY_TEXT, uncompressed  # so compression is what made them fit
