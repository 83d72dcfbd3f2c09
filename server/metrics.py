"""Prometheus metrics with the contract's names (prefix ``steerserve_``), and the ``GET /metrics`` route.

Each app owns its registry (tests build many apps). Pack and feature labels only ever take ids of loaded packs:
callers pass ids that already resolved against the runtime, so a client naming random packs adds no series.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

ACTIVATION_BUCKETS = (0.0, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        p = "steerserve_"
        self.requests = Counter(p + "requests_total", "HTTP requests by route and status", ["route", "status"],
                                registry=r)
        self.steered = Counter(p + "steered_requests_total", "Requests steered with a pack", ["pack"], registry=r)
        self.activation = Histogram(p + "feature_activation", "Per-request max activation of monitored features",
                                    ["pack", "feature"], buckets=ACTIVATION_BUCKETS, registry=r)
        self.alerts = Counter(p + "alerts_total", "Monitor alerts", ["pack", "feature", "action"], registry=r)
        self.sink_failures = Counter(p + "alert_sink_failures_total", "Failed alert deliveries", ["sink"], registry=r)
        self.alerts_dropped = Counter(p + "alerts_dropped_total", "Alerts dropped (queue full or retries spent)",
                                      registry=r)
        self.batch_size = Gauge(p + "engine_batch_size", "Requests in the engine's current decode batch", registry=r)
        self.tokens = Counter(p + "tokens_generated_total", "Completion tokens generated", registry=r)
        self.edited_positions = Counter(p + "steered_positions_total", "Token positions the op edited (receipts)",
                                        ["pack"], registry=r)
        self.not_applied = Counter(p + "steering_not_applied_total", "Steered features that edited 0 positions of a "
                                   "request that ran (steering silently not applied)", ["pack"], registry=r)
        self.rejected = Counter(p + "requests_rejected_total", "Requests refused before reaching the engine",
                                ["reason"], registry=r)
        self.delivered = Counter(p + "alerts_delivered_total", "Alerts a sink delivered (webhook: receiver answered "
                                 "2xx)", ["sink"], registry=r)
        self.alert_queue = Gauge(p + "alert_queue_depth", "Alerts waiting for a sink (queued or being retried)",
                                 ["sink"], registry=r)
        self.config_rows = Gauge(p + "steering_config_rows", "Steering config rows held by requests in the engine",
                                 registry=r)
        self.pack_tables = Gauge(p + "steering_pack_tables", "Pack tables alive in the engine (1, more only while "
                                 "requests started before a reload run)", registry=r)
        self.in_flight = Gauge(p + "requests_in_flight", "Generations admitted and not finished (running + waiting)",
                               registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


router = APIRouter()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    # Prometheus text; the gauges that describe the engine are read when scraped
    state = request.app.state.steer
    if state.engine is not None:
        state.metrics.batch_size.set(getattr(state.engine, "batch_size", 0))
        if hasattr(state.engine, "steering_state"):  # engines whose rows live in this process
            rows, tables = state.engine.steering_state()
            state.metrics.config_rows.set(rows)
            state.metrics.pack_tables.set(tables)
    if state.service is not None:
        state.metrics.in_flight.set(state.service.admission.in_flight)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
