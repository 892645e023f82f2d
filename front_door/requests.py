"""What the front door and the routes agree on about a request: how big its body may be, and where the
actor authenticated once is kept for the rest of the request."""

MAX_BODY_BYTES = 256 * 1024
# Where front_door/idempotency.py leaves the actor it authenticated, so the operation does not do it again.
ACTOR_KEY = "cafe_rt.actor"
