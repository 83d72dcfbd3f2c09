"""What the offline commands share: the embedded model, the command line recorded as provenance, options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from steering.model import prepare_embedded_model

PACKS = "feature_packs/smollm2-135m-instruct"


def invocation() -> str:
    """The command line as run, recorded in packs, cards and reports (provenance)."""
    return " ".join(["steer", *sys.argv[1:]])


def model_path(path: str | None) -> str | Path:
    """``--model`` or the embedded model (prepared on first use)."""
    return path or prepare_embedded_model()


def load_model(path: str | Path | None, dtype: str = "float32"):
    """(model in eval mode, tokenizer) from ``--model`` or the embedded model. torch and transformers are imported
    here, not at the top, so ``--help`` stays fast."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_path(path)
    return AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval(), \
        AutoTokenizer.from_pretrained(path)


def model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model directory (default: embedded)")


def paragraphs(path: str) -> list[str]:
    """Blank-line-separated paragraphs of a text file."""
    return [t.strip() for t in Path(path).read_text().split("\n\n") if t.strip()]
