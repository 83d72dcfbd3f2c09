"""Server settings: one declarative class; CLI flags and ``STEERSERVE_*`` environment variables fill it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_PACKS = Path(__file__).resolve().parent.parent / "feature_packs"


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STEERSERVE_", extra="ignore")

    engine: Literal["hf", "vllm", "fake"] = Field("hf", description="inference engine: hf (embedded, CPU), vllm")
    model: str | None = Field(None, description="model directory (default: the embedded SmolLM2-135M-Instruct)")
    model_id: str | None = Field(None, description="name clients use in 'model' (default: the directory name)")
    packs: str | None = Field(None, description="feature pack root (default: the shipped packs for the model)")
    config: str | None = Field(None, description="policy file (YAML or TOML)")
    host: str = Field("127.0.0.1", description="bind address")
    port: int = Field(8000, ge=0, le=65535, description="bind port")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="HF engine weights dtype")
    max_num_seqs: int = Field(64, ge=1, le=1024, description="requests decoded together in one batch")
    max_prefill_tokens: int = Field(1024, ge=16, le=1 << 20, description="HF engine: padded tokens (requests × "
                                    "longest prompt) prefilled together between two decode steps")
    max_waiting: int = Field(256, ge=0, le=1 << 20, description="generations allowed to wait for a batch slot "
                             "beyond max_num_seqs; past that, requests get 429 server_overloaded with Retry-After")
    max_configs: int = Field(64, ge=2, le=4096, description="distinct steering configs alive at once (+ unsteered)")
    max_tokens_default: int = Field(512, ge=1, le=1 << 20, description="max_tokens when a request gives none")
    max_x: float = Field(100.0, gt=0, le=1e4, description="bound on |value| in multiples of max_activation")
    vllm_compile: bool = Field(False, description="vLLM engine: torch.compile the model (steering is part of the "
                               "compiled graph; slow start-up on CPU). Default: eager")
    max_model_len: int = Field(2048, ge=16, le=1 << 20, description="vLLM engine: context length")
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="vLLM engine: tensor-parallel ranks (the model's "
                                      "attention heads must divide by it; on CPU set VLLM_CPU_OMP_THREADS_BIND "
                                      "per rank, e.g. '0|1')")
    strict_packs: bool = Field(False, description="refuse to start if any pack fails verification (default: skip "
                               "it with an error in the log)")

    @field_validator("port", mode="before")
    @classmethod
    def _not_a_service_link(cls, v):
        """Kubernetes injects ``STEERSERVE_PORT=tcp://<ip>:<port>`` for a Service named ``steerserve`` (a docker
        link variable, not ours): it must not stop the server from starting. Keep the default port."""
        if isinstance(v, str) and v.startswith(("tcp://", "udp://")):
            return 8000
        return v
