"""The operator's policy file (YAML or TOML): defaults, mandatory monitors, profiles, bounds, keys, monitors, alerts.

Example: examples/config.yaml. Every section is optional; an empty file means "no keys, no defaults".
Keys are stored as sha256 hex digests (``steer keys hash``), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from steering.spec import SpecItem, parse_spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileConfig(_Strict):
    description: str = ""
    steering: str = Field("", description="items in the X-Steering grammar")


class MonitorConfig(_Strict):
    action: Literal["log", "flag", "block", "steer", "annotate"] | None = None
    threshold: float | None = None
    steer: str | None = Field(None, description="counter-steering applied from the firing token on (action steer)")
    note: str | None = Field(None, min_length=1, max_length=2000, description="text appended to the reply when "
                             "the monitor fires (action annotate)")

    @model_validator(mode="after")
    def _note_for_annotate(self) -> MonitorConfig:
        if self.action == "annotate" and not self.note:
            raise ValueError("action 'annotate' needs a 'note': the text appended to a reply that fired")
        return self


class KeyConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    packs: list[str] | None = Field(None, description="packs this key may steer with (None = all)")


class KeysConfig(_Strict):
    admin: list[KeyConfig] = Field(default_factory=list)
    inference: list[KeyConfig] = Field(default_factory=list)


class WebhookConfig(_Strict):
    url: str
    secret_env: str | None = Field(None, description="environment variable holding the HMAC secret")
    timeout_s: float = Field(5.0, gt=0, le=60)
    max_retries: int = Field(8, ge=0, le=50)
    backoff_base_s: float = Field(0.5, gt=0, le=60)
    backoff_max_s: float = Field(30.0, gt=0, le=600)


class AlertsConfig(_Strict):
    log: bool = True
    webhook: WebhookConfig | None = None
    queue_size: int = Field(1000, ge=1, le=1_000_000)
    rate_limit_per_s: float | None = Field(None, gt=0)


class SteeringConfig(_Strict):
    defaults: str = Field("", description="items applied to every request")
    mandatory_monitors: list[str] = Field(default_factory=list, description="'pack/feature' an inference key "
                                          "can never turn off")
    max_x: float = Field(100.0, gt=0, le=1e4)
    pack_max_x: dict[str, float] = Field(default_factory=dict)
    profiles: dict[str, ProfileConfig] = Field(default_factory=dict)


class ServerConfig(_Strict):
    metrics_public: bool = True
    max_body_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)
    max_n: int = Field(8, ge=1, le=128)
    max_tokens: int = Field(4096, ge=1)
    max_waiting: int | None = Field(None, ge=0, description="overrides the max_waiting setting (admission bound)")


class PolicyConfig(_Strict):
    steering: SteeringConfig = Field(default_factory=SteeringConfig)
    monitors: dict[str, MonitorConfig] = Field(default_factory=dict)
    keys: KeysConfig = Field(default_factory=KeysConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    @field_validator("monitors")
    @classmethod
    def _refs(cls, v: dict[str, MonitorConfig]) -> dict[str, MonitorConfig]:
        for ref in v:
            if ref.count("/") != 1:
                raise ValueError(f"monitor '{ref}' must be 'pack/feature'")
        return v

    def items(self, text: str, where: str) -> list[SpecItem]:
        return parse_spec(text, param=where)


def load_policy(path: str | Path | None) -> PolicyConfig:
    """Read and validate the policy file; errors name the file section, never echo secrets."""
    if path is None:
        return PolicyConfig()
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    raw = tomllib.loads(text) if p.suffix == ".toml" else yaml.safe_load(text)
    try:
        return PolicyConfig.model_validate(raw or {})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ValueError(f"policy file {p.name}: {where}: {err['msg']}") from None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def match_key(presented: str, keys: list[KeyConfig]) -> KeyConfig | None:
    """Constant-time comparison of the presented key's digest against every configured digest."""
    digest = hash_key(presented)
    found = None
    for k in keys:  # no early exit: the time does not depend on which key matched
        if hmac.compare_digest(digest, k.sha256):
            found = k
    return found
