"""Build the engine a settings object describes: resolve the model, load and check packs, start the engine."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import AutoConfig

from server.engines.hf import HFEngine
from server.engines.vllm import VLLMEngine  # imports vllm only when a VLLMEngine is built
from server.settings import REPO_PACKS, ServerSettings
from steering.model import prepare_embedded_model
from steering.pack import ModelInfo, load_packs

log = logging.getLogger("steerserve.loader")


def model_path(settings: ServerSettings) -> Path:
    return Path(settings.model) if settings.model else prepare_embedded_model()


def packs_root(settings: ServerSettings, model_id: str) -> Path:
    return Path(settings.packs) if settings.packs else REPO_PACKS / model_id


def build_engine(settings: ServerSettings):
    path = model_path(settings)
    cfg = AutoConfig.from_pretrained(path)
    model_id = settings.model_id or path.name
    info = ModelInfo.from_hf_config(cfg, model_id)
    packs = load_packs(packs_root(settings, model_id), info, strict=settings.strict_packs)
    log.info("loaded %d feature packs: %s", len(packs), ", ".join(p.id for p in packs) or "-")
    if settings.engine == "vllm":
        return VLLMEngine(path, packs, model_id=model_id, max_num_seqs=settings.max_num_seqs,
                          enforce_eager=not settings.vllm_compile, max_model_len=settings.max_model_len,
                          tensor_parallel_size=settings.tensor_parallel_size)
    return HFEngine(path, packs, model_id=model_id, dtype=getattr(torch, settings.dtype),
                    max_num_seqs=settings.max_num_seqs, max_configs=settings.max_configs,
                    max_prefill_tokens=settings.max_prefill_tokens)
