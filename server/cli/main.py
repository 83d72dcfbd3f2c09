"""``steer``: the top-level parser and ``main``. One module per command group: the serving ones here
(``serve.py``, ``pack.py``, ``model.py``, ``keys.py``), the offline ones in ``steerlab/cli/`` (probe, corpus, sae,
features, eval, bench), which only exists where steerlab does (the serving image ships without it)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys

from server.cli import keys, model, pack, serve
from server.cli.common import Group
from steering.errors import SteeringError

SERVING = (serve, pack, model, keys)
# offline command groups: name → (one line for `steer --help`, the `--help` subcommand dest). The rest of each
# group — its subcommands, arguments and examples — is ``steerlab/cli/<name>.py``.
OFFLINE = {
    "probe": ("train probe / direction packs", "prcmd"),
    "corpus": ("build the deterministic training corpus", "ccmd"),
    "sae": ("sparse autoencoders: train, label", "scmd"),
    "features": ("discover features: top contexts, contrastive search", "fcmd"),
    "eval": ("offline evaluations of shipped packs", "ecmd"),
    "bench": ("benchmarks that print ratios measured side by side", "bcmd"),
}
EXAMPLES = """examples:
  steer serve                                   # embedded SmolLM2 + shipped packs on 127.0.0.1:8000
  steer serve --port 9000 --packs ./my_packs
  steer pack inspect feature_packs/smollm2-135m-instruct/golden-gate
  steer pack verify feature_packs/smollm2-135m-instruct/*
  steer pack import saelens ./my_sae ./packs/my-pack --id my-pack --features 12,40 --labels bridge,city --layer 15
  steer model prepare                           # convert the embedded model once (make install does it)
"""
OFFLINE_EXAMPLES = """\
  steer eval bias --out docs/eval               # gender pack: pronoun skew, agreement, perplexity (held-out)
  steer eval scope --out docs/eval              # topics pack: off-scope deflection, in-scope preservation
  steer bench op                                # fused-op throughput, steered ÷ unsteered, side by side
  steer bench vllm --out docs/benchmarks.md     # steered vLLM ÷ vanilla vLLM (engines and servers)
  steer bench load --out docs/benchmarks.md     # TTFT/ITL/e2e under load: steer serve, vllm serve, plain generate
  steer bench soak --out docs/benchmarks.md     # 64 streams, 10 min, disconnects, webhook outage, reloads, SIGTERM
"""


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``steer`` parser for ``argv``. Offline groups are listed when steerlab is installed, and only the one
    ``argv`` names is filled in (its module imported), so ``steer serve`` never imports steerlab."""
    offline = importlib.util.find_spec("steerlab") is not None
    p = argparse.ArgumentParser(prog="steer", description="steerserve: per-request feature steering for LLM servers",
                                epilog=EXAMPLES + (OFFLINE_EXAMPLES if offline else ""),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for group in SERVING:
        group.register(sub)
    if offline:
        named = next((x for x in (sys.argv[1:] if argv is None else argv) if not x.startswith("-")), None)
        for name, (help, dest) in OFFLINE.items():
            g = Group(sub, name, help, dest)
            if name == named:  # the lazy offline-command loading: imported here, only for the group that runs
                importlib.import_module(f"steerlab.cli.{name}").register(g)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    a = parser(argv).parse_args(argv)
    try:
        return a.fn(a)
    except SteeringError as e:  # the CLI prints the reason instead of a traceback for known errors
        print(f"error: {e.message}", file=sys.stderr)
        return 1
