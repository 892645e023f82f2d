"""GET /metrics: the Prometheus text format, with what the service counts about itself."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from realtime.outlet import CLOSE_TOO_SLOW, Outlet
from tests.factory import create_order, feed_url, make_company, ok


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_sockets_events_requests_and_latency(client):
    cafe = make_company(client)
    before = scrape(client)
    with (
        client.websocket_connect(feed_url("orders", cafe.waiter)) as orders,
        client.websocket_connect(f"/?token={cafe.waiter.token}") as rooms,
    ):
        orders.receive_json()
        rooms.receive_json()
        during = scrape(client)
        assert value(during, "cafe_rt_sockets", dialect="cafe") == value(before, "cafe_rt_sockets", dialect="cafe") + 1
        assert (
            value(during, "cafe_rt_sockets", dialect="rooms") == value(before, "cafe_rt_sockets", dialect="rooms") + 1
        )
        create_order(client, cafe)
        assert orders.receive_json()["type"] == "order_created"
        assert orders.receive_json()["type"] == "table_status_changed"
        after = scrape(client)
    published = value(after, "cafe_rt_events_published_total") - value(before, "cafe_rt_events_published_total")
    delivered = value(after, "cafe_rt_events_delivered_total") - value(before, "cafe_rt_events_delivered_total")
    assert published >= 2 and delivered >= 2  # order_created and table busy reached the feed, at least
    latency = value(after, "cafe_rt_commit_to_socket_seconds_count") - value(
        before, "cafe_rt_commit_to_socket_seconds_count"
    )
    assert latency >= 1
    assert value(after, "cafe_rt_broker_up") == 1
    created = value(after, "cafe_rt_http_requests_total", route="/api/cafe/orders/", method="POST", status="201")
    assert (
        created - value(before, "cafe_rt_http_requests_total", route="/api/cafe/orders/", method="POST", status="201")
        == 1
    )
    assert value(after, "cafe_rt_http_request_seconds_count", route="/api/cafe/orders/", method="POST") >= 1
    order_id = ok(client.get("/api/cafe/orders/", headers=cafe.waiter.auth))[0]["id"]
    ok(client.get(f"/api/cafe/orders/{order_id}/", headers=cafe.waiter.auth))
    routes = {dict(labels)["route"] for name, labels in scrape(client) if name == "cafe_rt_http_requests_total"}
    # Labelled by the route's template, never by a raw path with an id in it.
    assert "/api/cafe/orders/{order_id}/" in routes
    assert not any(order_id in route for route in routes)


def test_a_socket_dropped_for_being_slow_is_counted(client):
    before = scrape(client)
    Outlet("company", {"channel"}, max_queue=1).close(CLOSE_TOO_SLOW)
    after = scrape(client)
    assert value(after, "cafe_rt_slow_client_closes_total") == value(before, "cafe_rt_slow_client_closes_total") + 1
