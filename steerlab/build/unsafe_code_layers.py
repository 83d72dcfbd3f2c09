"""Offline experiment: would a read-out over several layers tell insecure code from its fix better than one layer?

The shipped ``unsafe-code`` probe reads one layer (:mod:`steerlab.build.unsafe_code_pairs`). A probe over several
layers scores a token by ``Σ_l h_l · w_l + b``, the logit of one probe on the layers' residuals side by side; the
serving monitor cannot compute it today (each site reduces its own readings), so this only measures whether it
would be worth building. Same data, training and leave-one-set-out cross-validation as the build
(:func:`~steerlab.build.unsafe_code_pairs.cross_validate`), one row per layer set, single layers included for the
side-by-side comparison. No held-out set is read.

    python -m steerlab.build.unsafe_code_layers --combos 18,12+18,15+18+21 --out docs/eval/unsafe-code-layers.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from steerlab.build.unsafe_code_pairs import cross_validate, side_by_side, training_data


def run(model, tok, combos: list[tuple[int, ...]], *, seed: int = 0, l2: float = 1e-2) -> list[dict]:
    layers = sorted({layer for c in combos for layer in c})
    d = training_data(model, tok, layers, seed=seed)
    rows = []
    for combo in combos:
        key = "+".join(map(str, combo))
        acts = {name: side_by_side(a, combo) for name, a in d["acts"].items()}
        r = cross_validate(d["folds"], acts, d["plain"], side_by_side(d["acts_plain"], combo),
                           side_by_side(d["acts_ord"], combo), key, seed=seed, l2=l2)
        print(f"  layers {key}: cross-validated AUROC {r['auroc']:.3f}, pair accuracy {r['pair_acc']:.3f}", flush=True)
        rows.append(r)
    return rows


def report(rows: list[dict], command: str) -> str:
    names = list(rows[0]["folds"])
    lines = [f"| layers | mean AUROC | {' | '.join(names)} | mean pair acc. | mean P / R at the fold thresholds |",
             "|---|---|" + "---|" * len(names) + "---|---|"]
    for r in rows:
        lines.append(f"| {r['layer']} | **{r['auroc']:.3f}** | "
                     + " | ".join(f"{r['folds'][n]['auroc']:.3f}" for n in names)
                     + f" | {r['pair_acc']:.3f} | {r['precision']:.2f} / {r['recall']:.2f} |")
    table = "\n".join(lines)
    return f"""# unsafe-code: one layer or several? (offline experiment, cross-validated)

Command: `{command}`

The hand-written training sets of the shipped probe, each left out in turn (leave-one-set-out, as the build
selects); a probe over several layers reads their residuals side by side (one logit `Σ h_l·w_l + b` per token, max
over the program's tokens, trained the same way). Dev numbers only: no held-out set is read. The serving monitor
reads one layer per probe today, so a multi-layer row is what it would gain, not what it serves.

{table}
"""


def main(argv: list[str] | None = None) -> int:
    from steerlab.cli.common import load_model

    ap = argparse.ArgumentParser(prog="python -m steerlab.build.unsafe_code_layers", description=__doc__.split("\n")[0])
    ap.add_argument("--combos", default="18,12+18,15+18+21", help="comma-separated layer sets, layers joined by +")
    ap.add_argument("--out", default="docs/eval/unsafe-code-layers.md")
    ap.add_argument("--model", default=None)
    a = ap.parse_args(argv)
    combos = [tuple(int(x) for x in c.split("+")) for c in a.combos.split(",")]
    model, tok = load_model(a.model)
    rows = run(model, tok, combos)
    command = "python -m steerlab.build.unsafe_code_layers " + " ".join(argv if argv is not None else sys.argv[1:])
    Path(a.out).write_text(report(rows, command.strip()))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
