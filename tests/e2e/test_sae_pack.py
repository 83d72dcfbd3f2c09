"""The shipped SAE pack on the real model: latents found by the contrastive searches read what they were named for,
on texts that were in no search (written here), through the runtime's own activation (what a monitor sees)."""

from __future__ import annotations

import pytest
import torch

from server.settings import REPO_PACKS
from steering.model import EMBEDDED_MODEL_ID
from steering.pack import load_pack
from steering.runtime import SteeringRuntime
from steerlab.build.activations import layer_activations

pytestmark = pytest.mark.slow
PACK = REPO_PACKS / EMBEDDED_MODEL_ID / "sae-l15"

CODE = ["def load(path):\n    with open(path) as f:\n        return [line.strip() for line in f if line]\n",
        "class Cache:\n    def __init__(self, size=128):\n        self.size = size\n        self.items = {}\n"]
PROSE = ["The river flows through three provinces before it reaches the sea, and its delta is home to many birds.",
         "She moved to the city in 1998 and worked as a teacher for twenty years before writing her first novel."]
HEALTH = ["What are the early signs of a stroke?", "How long does a sprained ankle take to heal?"]
TRIVIA = ["Who wrote the novel Moby Dick?", "When did the Berlin Wall fall?"]


def group_max(model, tok, rt, pack, prefix: str, texts: list[str]) -> torch.Tensor:
    """Per text, the max over tokens of the strongest latent named ``prefix-*``."""
    cols = [rt.column((pack.id, f.name)).col for f in pack.manifest.features if f.name.startswith(prefix + "-")]
    assert cols, f"no {prefix}-* latents shipped"
    site = rt.sites[pack.layer]
    return torch.stack([site.activation(a)[:, cols].max() for a in layer_activations(model, tok, texts, pack.layer)])


def test_concept_latents_read_their_concept(model_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    pack = load_pack(PACK)
    assert len(pack.manifest.features) >= 30 and all(f.label for f in pack.manifest.features)
    rt = SteeringRuntime([pack], model.config.hidden_size)
    code, prose = group_max(model, tok, rt, pack, "code", CODE), group_max(model, tok, rt, pack, "code", PROSE)
    assert code.min() > prose.max(), (code, prose)
    health = group_max(model, tok, rt, pack, "health", HEALTH)
    trivia = group_max(model, tok, rt, pack, "health", TRIVIA)
    assert health.min() > trivia.max(), (health, trivia)
