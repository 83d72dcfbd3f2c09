"""Build the engine a settings object describes: resolve the model, load and check packs, start the engine."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import AutoConfig

from server.engines.hf import HFEngine
from server.engines.vllm import VLLMEngine  # imports vllm only when a VLLMEngine is built
from server.settings import REPO_PACKS, ServerSettings
from steering.errors import SteeringError
from steering.model import prepare_embedded_model
from steering.pack import FeaturePack, ModelInfo, discover_packs, load_pack

log = logging.getLogger("steerserve.loader")


def model_path(settings: ServerSettings) -> Path:
    return Path(settings.model) if settings.model else prepare_embedded_model()


def packs_root(settings: ServerSettings, model_id: str) -> Path:
    return Path(settings.packs) if settings.packs else REPO_PACKS / model_id


def load_packs(root: Path, model: ModelInfo, *, strict: bool = False) -> list[FeaturePack]:
    """Every pack under ``root`` that passes verification for ``model``; a bad pack is skipped with a clear log
    line (or, with ``strict``, stops start-up)."""
    packs: list[FeaturePack] = []
    if not root.is_dir():
        log.warning("no feature pack directory at %s; serving without packs", root.name)
        return packs
    for d in discover_packs(root):
        try:
            packs.append(load_pack(d, root=root, model=model))
        except SteeringError as e:
            if strict:
                raise
            log.error("skipping pack '%s': %s", d.name, e.message)
    ids = [p.id for p in packs]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate pack ids under the packs root: {sorted(dup)}")
    return packs


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
