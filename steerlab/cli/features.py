"""``steer features top|search``: discover what a pack's features respond to — their max-activating contexts, or
the features that separate two sets of texts. The builders are imported inside the command, so ``--help``
answers without loading torch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.cli.common import Group
from steerlab.cli.common import PACKS, invocation, load_model, model_option, paragraphs


def register(g: Group) -> None:
    t = g.command("top", "max-activating contexts per feature of a pack (Markdown report)", [
        f"steer features top --pack {PACKS}/golden-gate --chars 200000 --out top.md",
        f"steer features top --pack {PACKS}/sae-l15 --features all --n 8 --write-examples --out /dev/null"],
        cmd_features)
    t.add_argument("--pack", required=True)
    t.add_argument("--features", help="comma-separated feature names, or 'all' (default: the first 20)")
    t.add_argument("--corpus", help="a `steer corpus build` directory (default: built-in prose + code mix)")
    t.add_argument("--chars", type=int, default=300_000)
    t.add_argument("--n", type=int, default=10)
    t.add_argument("--out")
    t.add_argument("--write-examples", dest="write_examples", action="store_true",
                   help="also write the contexts into the pack as examples.json (served with the pack and shown in "
                        "/playground)")
    model_option(t)
    s = g.command("search", "features that fire on positive texts and not on negative ones", [
        f"steer features search --pack {PACKS}/sae-l15 --positive bridge.txt --negative other.txt"], cmd_features)
    s.add_argument("--pack", required=True)
    s.add_argument("--positive", required=True, help="text file, paragraphs separated by blank lines")
    s.add_argument("--negative", required=True)
    s.add_argument("--n", type=int, default=20)
    model_option(s)


def cmd_features(a: argparse.Namespace) -> int:
    import torch

    from steering.pack import load_pack
    from steering.pack.examples import write_examples
    from steering.runtime import SteeringRuntime
    from steerlab.build.activations import layer_activations
    from steerlab.build.features import contrastive, markdown_report, top_contexts
    from steerlab.build.sae_train import corpus_texts, default_texts

    pack = load_pack(a.pack)
    model, tok = load_model(a.model)
    d = model.config.hidden_size
    rt = SteeringRuntime([pack], d)
    # what a monitor reads: the read site's activation, or for readout "sum" the sum of every site's (the residuals
    # of the sites side by side, [T, k·d]; one pack alone has the same column at every site)
    layers = pack.layers if pack.manifest.readout == "sum" else [pack.layer]

    def activation(x: torch.Tensor) -> torch.Tensor:
        return sum(rt.sites[layer].activation(h) for layer, h in zip(layers, x.split(d, dim=1), strict=True))

    def residuals(texts: list[str], desc: str) -> list[torch.Tensor]:
        per = [list(layer_activations(model, tok, texts, layer, desc=f"{desc}, layer {layer}")) for layer in layers]
        return [torch.cat(xs, 1) for xs in zip(*per, strict=True)]

    names = {rt.columns[(pack.id, f.name)].col: f.name for f in pack.manifest.features}
    if a.fcmd == "search":
        pos, neg = residuals(paragraphs(a.positive), "positive"), residuals(paragraphs(a.negative), "negative")
        for col, score, p, n in contrastive(pos, neg, activation, n=a.n):
            print(f"{names[col]:>12}  score {score:+.2f}  mean max: positive {p:.3f}  negative {n:.3f}")
        return 0
    texts = corpus_texts(Path(a.corpus), a.chars) if a.corpus else default_texts(a.chars)
    acts = residuals(texts, "texts")
    tokens = [[tok.decode([t]) for t in tok(x, truncation=True, max_length=256)["input_ids"][1:]] for x in texts]
    want = list(names.values()) if a.features == "all" else a.features.split(",") if a.features else \
        list(names.values())[:20]
    cols = [rt.column((pack.id, w)).col for w in want]
    top = top_contexts(acts, tokens, activation, cols, n_top=a.n)
    report = markdown_report(top, names)
    if a.write_examples:
        corpus = f"steer corpus build directory {Path(a.corpus).name}" if a.corpus else "built-in prose + code mix"
        dest = write_examples(Path(a.pack), {names[c]: [(x.value, x.snippet) for x in ctxs] for c, ctxs in top.items()},
                              command=invocation(), corpus=f"{corpus}, {a.chars} chars")
        print(f"wrote {dest}", file=sys.stderr)
    if a.out:
        Path(a.out).write_text(report)
    print(report)
    return 0
