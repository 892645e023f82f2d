"""What the service counts about itself, in the Prometheus client's standard types (served at GET /metrics).

Each process counts its own. With `serve --workers N` (one port, several processes) set
PROMETHEUS_MULTIPROC_DIR to an empty folder before start: every worker then writes its values there
and /metrics adds them up (the Prometheus client's multiprocess mode).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SOCKETS = Gauge("cafe_rt_sockets", "Open WebSockets, by dialect.", ["dialect"], multiprocess_mode="livesum")
EVENT_STREAMS = Gauge(
    "cafe_rt_event_streams", "Open server-sent event streams, by dialect.", ["dialect"], multiprocess_mode="livesum"
)
EVENTS_PUBLISHED = Counter("cafe_rt_events_published", "Events handed to the broker after commit.")
EVENTS_DELIVERED = Counter(
    "cafe_rt_events_delivered", "Event frames handed to sockets and event streams (one per client per event)."
)
SLOW_CLIENT_CLOSES = Counter("cafe_rt_slow_client_closes", "Sockets closed with 4008: their send queue was full.")
# Under --workers the supervising process holds a 0 it never updates: the most recent value is the one
# that tells (the workers share one broker).
BROKER_UP = Gauge(
    "cafe_rt_broker_up", "1 when the last broker probe made the round trip, else 0.", multiprocess_mode="mostrecent"
)
COMMIT_TO_SOCKET = Histogram(
    "cafe_rt_commit_to_socket_seconds",
    "From a change's commit to its events being handed to this process's sockets.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_REQUESTS = Counter(
    "cafe_rt_http_requests", "REST requests answered, by route and status.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "cafe_rt_http_request_seconds",
    "REST request latency, by route.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
