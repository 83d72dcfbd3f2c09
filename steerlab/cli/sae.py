"""``steer sae train|label``: a TopK sparse autoencoder on one layer's activations, then a labelled subset of its
latents shipped as a pack. The builders are imported inside each command, so ``--help`` answers without loading
torch."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from server.cli.common import Group
from steering.model import EMBEDDED_MODEL_ID
from steerlab.cli.common import PACKS, invocation, load_model, model_option

SAE = "~/.cache/steerserve/sae/l15-8k"


def register(g: Group) -> None:
    t = g.command("train", "collect layer activations and train a TopK SAE (resumable)", [
        "steer sae train --layer 15 --width 4096 --k 32 --chars 8000000 --steps 1000 --out ~/.cache/steerserve/sae/l15-4k",
        f"steer sae train --layer 15 --width 8192 --k 32 --corpus ~/.cache/steerserve/corpus --chars 15000000 "
        f"--steps 1001 --out {SAE}   # the shipped sae-l15 pack's run"], cmd_sae_train)
    model_option(t)
    t.add_argument("--layer", type=int, default=15)
    t.add_argument("--width", type=int, default=4096)
    t.add_argument("--k", type=int, default=32)
    t.add_argument("--chars", type=int, default=4_000_000, help="text to collect activations from")
    t.add_argument("--corpus", help="a corpus directory from `steer corpus build` (default: built-in mix)")
    t.add_argument("--steps", type=int, default=1000)
    t.add_argument("--batch", type=int, default=4096)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--context", type=int, default=1024, help="tokens per text window (shorter: faster on CPU; "
                   "texts are split, not truncated, below 1024)")
    t.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16",
                   help="model dtype for collecting activations (bfloat16: ~3x faster on CPU, cosine 0.9999 to fp32)")
    t.add_argument("--out", required=True)

    lb = g.command("label", "label a trained SAE's latents on held-out corpus text; ship a labelled subset as a pack "
                   "with a browsable report", [
                       f"steer sae label --sae {SAE} --corpus ~/.cache/steerserve/corpus --skip-chars 15000000 "
                       f"--out-pack {PACKS}/sae-l15 --report docs/sae/README.md"], cmd_sae_label)
    lb.add_argument("--sae", required=True, help="a `steer sae train --out` directory")
    lb.add_argument("--corpus", required=True, help="the corpus the SAE was trained on")
    lb.add_argument("--skip-chars", dest="skip_chars", type=int, required=True,
                    help="the training run's --chars: labelling reads only text after it")
    lb.add_argument("--chars", type=int, default=1_500_000, help="held-out text to label from")
    lb.add_argument("--random", type=int, default=32, help="latents shipped as a seeded random sample")
    lb.add_argument("--per-concept", dest="per_concept", type=int, default=4, help="latents shipped per concept search")
    lb.add_argument("--seed", type=int, default=0)
    lb.add_argument("--out-pack", dest="out_pack", required=True)
    lb.add_argument("--report", required=True, help="Markdown report path (training report and plot copied beside)")
    model_option(lb)


def cmd_sae_train(a: argparse.Namespace) -> int:
    from steerlab.build.sae_train import sae_train

    model, tok = load_model(a.model, dtype=a.dtype)
    r = sae_train(model, tok, model_name=EMBEDDED_MODEL_ID, layer=a.layer, width=a.width, k=a.k, chars=a.chars,
                  steps=a.steps, batch=a.batch, out=Path(a.out).expanduser(), lr=a.lr, context=a.context,
                  corpus=Path(a.corpus).expanduser() if a.corpus else None, command=invocation())
    print(json.dumps(r, indent=2))
    return 0


def cmd_sae_label(a: argparse.Namespace) -> int:
    from steering.pack import ModelInfo
    from steerlab.build.sae_pack import label_and_ship

    model, tok = load_model(a.model)
    info = ModelInfo.from_hf_config(model.config, EMBEDDED_MODEL_ID)
    r = label_and_ship(model, tok, info, sae_dir=Path(a.sae).expanduser(), corpus=Path(a.corpus).expanduser(),
                       skip_chars=a.skip_chars, chars=a.chars, out_pack=Path(a.out_pack), report=Path(a.report),
                       n_random=a.random, n_concept=a.per_concept, seed=a.seed, command=invocation())
    print(json.dumps(r, indent=1))
    return 0
