"""Application state: settings, policy, metrics, alerts, and the engine once it is loaded."""

from __future__ import annotations

import logging
import os

from server.alerts import AlertDispatcher, LogSink, WebhookSink
from server.engines.base import Engine
from server.errors import APIError
from server.generation import CompletionService
from server.metrics import Metrics
from server.policy import PolicyConfig
from server.settings import ServerSettings
from server.steering_service import CompiledPolicy
from steering.feature_map import FeatureMap

log = logging.getLogger("steerserve")


def build_alerts(cfg: PolicyConfig, metrics: Metrics) -> AlertDispatcher:
    a = cfg.alerts
    sinks = [LogSink()] if a.log else []
    if a.webhook is not None:
        w = a.webhook
        secret = os.environ.get(w.secret_env) if w.secret_env else None
        if w.secret_env and not secret:
            log.warning("webhook secret variable %s is not set; alerts are sent unsigned", w.secret_env)
        sinks.append(WebhookSink(w.url, secret=secret, timeout_s=w.timeout_s, max_retries=w.max_retries,
                                 backoff_base_s=w.backoff_base_s, backoff_max_s=w.backoff_max_s, metrics=metrics))
    return AlertDispatcher(sinks, metrics, queue_size=a.queue_size, rate_limit_per_s=a.rate_limit_per_s)


class State:
    def __init__(self, settings: ServerSettings, config: PolicyConfig, engine: Engine | None) -> None:
        self.settings, self.config = settings, config
        self.metrics = Metrics()
        self.alerts = build_alerts(config, self.metrics)
        self.engine: Engine | None = None
        self.service: CompletionService | None = None
        self.policy = CompiledPolicy()
        self.draining = False
        self.load_error: BaseException | None = None  # the engine failed to load (the server then exits)
        self._feature_map: tuple[object, FeatureMap] | None = None  # (pack table it was built from, map)
        if engine is not None:
            self.ready(engine)

    def compile_policy(self, runtime) -> CompiledPolicy:
        """The policy file compiled against ``runtime``'s packs; ``max_x`` from the settings unless the file sets
        it (at start-up and on every pack reload alike)."""
        policy = CompiledPolicy.from_config(self.config, runtime)
        if "max_x" not in self.config.steering.model_fields_set:
            policy.max_x = self.settings.max_x
        return policy

    def ready(self, engine: Engine) -> None:
        """Compile the policy against the engine's packs (a bad policy fails start-up with a clear message)."""
        self.policy = self.compile_policy(engine.runtime)
        self.engine = engine
        waiting = self.config.server.max_waiting
        waiting = self.settings.max_waiting if waiting is None else waiting
        self.service = CompletionService(engine, self.metrics, self.alerts, self.settings.max_tokens_default,
                                         max_in_flight=self.settings.max_num_seqs + waiting)

    def require_ready(self) -> CompletionService:
        if self.service is None or self.draining:
            raise APIError("the model is still loading" if not self.draining else "the server is shutting down",
                           status=503, code="model_loading" if not self.draining else "server_shutting_down",
                           type_="server_error", headers={"Retry-After": "5"})
        return self.service

    def feature_map(self) -> FeatureMap:
        """Neighbours and 2-D map of the loaded features, built once per pack table (a reload builds a new one)."""
        rt = self.require_ready().engine.runtime
        if self._feature_map is None or self._feature_map[0] is not rt:
            self._feature_map = (rt, FeatureMap.of(rt.packs.values()))
        return self._feature_map[1]

    def count_rejected(self, path: str, status: int) -> None:
        log.info("rejected %s with %d", path[:100], status)
