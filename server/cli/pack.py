"""``steer pack inspect|verify|import|export``: feature packs on disk.

``steering.pack`` is imported inside each command, not at the top, so ``steer --help`` starts without torch."""

from __future__ import annotations

import argparse
import json
import sys

from server.cli.common import Group
from steering.errors import SteeringError

PACKS = "feature_packs/smollm2-135m-instruct"


def register(sub) -> None:
    g = Group(sub, "pack", "inspect, verify, import and export feature packs", dest="pcmd")
    i = g.command("inspect", "print a pack's manifest", [f"steer pack inspect {PACKS}/golden-gate",
                                                          f"steer pack inspect {PACKS}/gender --json"], cmd_pack_inspect)
    i.add_argument("path")
    i.add_argument("--root", help="packs root (symlinks may not leave it; default: the pack's parent)")
    i.add_argument("--json", action="store_true")
    v = g.command("verify", "run every load-time check; exit 1 if any pack fails", [f"steer pack verify {PACKS}/*"],
                  cmd_pack_verify)
    v.add_argument("paths", nargs="+")
    v.add_argument("--root")
    im = g.command("import", "import features from a foreign SAE format", [
        "steer pack import saelens ./my_sae ./packs/my-pack --id my-pack --features 12,40 --labels bridge,city "
        "--layer 15",
        "steer pack import gguf ./calm.gguf ./packs/calm --id calm --features 0 --labels calm   # every layer"],
        cmd_pack_import)
    im.add_argument("format", choices=["saelens", "gemmascope", "sparsify", "gguf"])
    im.add_argument("src")
    im.add_argument("dst")
    im.add_argument("--features", required=True, help="comma-separated latent indices, or 'all'")
    im.add_argument("--labels", help="comma-separated labels, one per feature")
    im.add_argument("--id", required=True, help="pack id")
    im.add_argument("--layer", type=int, default=None,
                    help="the site; gguf without --layer imports every layer of the control vector as one pack")
    im.add_argument("--scaling-factor", type=float, help="SAELens expected-average input scaling factor")
    im.add_argument("--max-activation", type=float, help="calibrated max activation recorded for every feature")
    im.add_argument("--model-name", default="smollm2-135m-instruct")
    im.add_argument("--architecture", default="LlamaForCausalLM")
    im.add_argument("--d-model", type=int, default=576)
    im.add_argument("--num-layers", type=int, default=30)
    ex = g.command("export", "write a pack in another tool's format", [
        f"steer pack export {PACKS}/golden-gate golden-gate.gguf --value 1.5x   # llama.cpp --control-vector",
        f"steer pack export {PACKS}/sae-l15 ./sae-l15-saelens --to saelens"], cmd_pack_export)
    ex.add_argument("pack", help="pack directory")
    ex.add_argument("out", help="output file (gguf) or directory (saelens)")
    ex.add_argument("--to", choices=["gguf", "saelens"], default="gguf",
                    help="gguf: llama.cpp / repeng control vector of one feature at one strength (op add); "
                         "saelens: an SAE pack as a SAELens directory (one per site)")
    ex.add_argument("--feature", help="feature name (default: the pack's only feature)")
    ex.add_argument("--value", help="strength: a number or a multiple like 1.5x (default: the feature's default)")


def cmd_pack_inspect(a: argparse.Namespace) -> int:
    from steering.pack import load_pack

    p = load_pack(a.path, root=a.root)
    m = p.manifest
    print(f"{m.id} v{m.version} — {m.title}")
    print(f"  model {m.model.name} ({m.model.architecture}, d={m.model.d_model}, layers={m.model.num_layers})")
    sites = ", ".join(f"{s.layer} {s.point}" for s in m.all_sites)
    print(f"  format v{m.format_version}; site layer {sites}; encoder {m.encoder.kind}; tensor rows {p.W_dec.shape[0]}")
    if m.readout == "sum":
        print(f"  readout: sum — monitors read the sum of every site's activation, at layer {m.monitor_layer}")
    if (c := m.condition) is not None:
        latch = (f"; latched off for the rest of a request once {c.latch.feature} (layer "
                 f"{m.all_sites[c.latch.site].layer}) > {c.latch.threshold:.4g}") if c.latch else ""
        print(f"  condition: edits only where {c.feature} (layer {m.all_sites[c.site].layer}) is {c.apply_when} "
              f"{c.threshold:.4g}{latch}")
    for f in m.features:
        print(f"  - {f.name}: {f.label!r} default {f.default_op}={f.default_value} max_activation={f.max_activation:.4g}"
              f" threshold={f.threshold} action={f.action}")
    if a.json:
        print(json.dumps(m.model_dump(), indent=2))
    return 0


def cmd_pack_verify(a: argparse.Namespace) -> int:
    from steering.pack import load_pack

    bad = 0
    for path in a.paths:
        try:
            p = load_pack(path, root=a.root)
            print(f"ok    {path}: {p.id} ({len(p.manifest.features)} features)")
        except SteeringError as e:
            bad += 1
            print(f"FAIL  {path}: [{getattr(e, 'reason', e.code)}] {e.message}")
    return 1 if bad else 0


def cmd_pack_import(a: argparse.Namespace) -> int:
    from steering.pack.importers import import_sae

    labels = a.labels.split(",") if a.labels else None
    try:
        features = None if a.features.strip() == "all" else [int(x) for x in a.features.split(",")]  # None: every latent
    except ValueError:
        print(f"error: --features takes comma-separated latent indices or 'all', not {a.features!r}", file=sys.stderr)
        return 1
    pack = import_sae(a.format, a.src, a.dst, features=features, labels=labels,
                      pack_id=a.id, model={"name": a.model_name, "architecture": a.architecture,
                                           "d_model": a.d_model, "num_layers": a.num_layers}, layer=a.layer,
                      scaling_factor=a.scaling_factor, max_activation=a.max_activation)
    print(f"wrote pack '{pack.id}' with {len(pack.manifest.features)} features")
    return 0


def cmd_pack_export(a: argparse.Namespace) -> int:
    from steering.pack import load_pack
    from steering.pack.exporters import export_gguf_control_vector, export_saelens

    pack = load_pack(a.pack)
    layers = ", ".join(map(str, pack.layers))
    if a.to == "saelens":
        dirs = export_saelens(pack, a.out)
        print(f"wrote {len(dirs)} SAELens director{'y' if len(dirs) == 1 else 'ies'} for '{pack.id}' (layers {layers})")
        return 0
    out = export_gguf_control_vector(pack, a.out, feature=a.feature, value=a.value)
    print(f"wrote gguf control vector {out.name}: '{pack.id}' at layers {layers}")
    return 0
