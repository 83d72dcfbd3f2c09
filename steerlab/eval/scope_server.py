"""The serving path for ``steer eval scope``: the HF engine, the policy file's profile, one chat request per question.

:class:`EngineAsker` resolves the profile exactly as a request carrying ``X-Steering-Profile`` is resolved
(:func:`server.steering_service.resolve_request`), so ``block_on`` and the watched features come from the policy
file, not from the evaluation code.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from server.engines.base import GenerateRequest, SamplingParams
from server.engines.hf import HFEngine
from server.policy import load_policy
from server.steering_service import CompiledPolicy, resolve_request
from steering.model import EMBEDDED_MODEL_ID, cache_dir
from steering.pack import FeaturePack
from steering.runtime import SteeringRuntime
from steerlab.build.scope_data import scope_splits
from steerlab.eval.data import (
    scope_heldout,
    scope_heldout_b,
    scope_heldout_c,
    scope_heldout_d,
    scope_heldout_e,
    scope_heldout_f,
    scope_heldout_g,
)
from steerlab.eval.scope import evaluate_scope


class EngineAsker:
    """``await asker(question, max_tokens, scoped)`` → ``{"finish_reason", "text", "completion_tokens", "monitor"}``;
    ``monitor`` is the response's ``steering.monitors[feature]`` entry (None when unscoped)."""

    def __init__(self, model_path: str | Path, packs: list[FeaturePack], policy_path: str | Path, profile: str,
                 feature: str, *, max_num_seqs: int = 16, model_id: str | None = None) -> None:
        self.engine = HFEngine(model_path, packs, model_id=model_id, max_num_seqs=max_num_seqs)
        policy = CompiledPolicy.from_config(load_policy(policy_path), self.engine.runtime)
        self.steering = resolve_request(self.engine.runtime, policy, None, profile, None)
        self.feature = feature
        self._ids = itertools.count()

    async def __call__(self, question: str, max_tokens: int, scoped: bool = True) -> dict:
        rs = self.steering
        ids = self.engine.tokenize_chat([{"role": "user", "content": question}])
        sp = SamplingParams(max_tokens=max_tokens, temperature=0.0)
        req = GenerateRequest(f"scope-{next(self._ids)}", ids, sp, rs.config if scoped else {},
                              rs.block_on if scoped else frozenset(), rs.steer_on if scoped else {})
        text, finish, n, monitors = "", None, 0, {}
        async for d in self.engine.generate(req):
            text += d.text
            finish, n = d.finish_reason or finish, d.completion_tokens or n
            monitors = d.monitors or monitors
        return {"finish_reason": finish, "text": text, "completion_tokens": n, "monitor": monitors.get(self.feature)}

    def close(self) -> None:
        asyncio.run(self.engine.shutdown())


HANDWRITTEN_SETS = {
    "a": (scope_heldout, "`steerlab/eval/data/scope_heldout.py` (set A): 40 in-scope and 40 off-scope requests written by "
                         "hand before the steered-deflection pack; dev for versions 1-3, **training data** of the "
                         "scope probe since version 4"),
    "b": (scope_heldout_b, "`steerlab/eval/data/scope_heldout_b.py` (set B): 40 in-scope and 40 off-scope requests "
                           "written by hand before the style-augmented scope recipe; dev for versions 2-3, **training "
                           "data** of the scope probe since version 4"),
    "c": (scope_heldout_c, "`steerlab/eval/data/scope_heldout_c.py` (set C): 40 in-scope and 40 off-scope requests "
                           "written by hand after set B was measured; the version-3 threshold was chosen on it; "
                           "**training data** of the scope probe since version 4"),
    "d": (scope_heldout_d, "`steerlab/eval/data/scope_heldout_d.py` (set D): 40 in-scope and 40 off-scope requests "
                           "written by hand before the version-3 scope recipe and its held-out set; **training data** "
                           "of the scope probe since version 4"),
    "e": (scope_heldout_e, "`steerlab/eval/data/scope_heldout_e.py` (set E): 40 in-scope and 40 off-scope requests "
                           "written by hand after set D was measured and before the version-4 scope recipe; version "
                           "4's held-out set, version 5's calibration requests, **training data** since version 6"),
    "f": (scope_heldout_f, "`steerlab/eval/data/scope_heldout_f.py` (set F): 40 in-scope and 40 off-scope requests "
                           "written by hand after set E was measured and before the version-5 scope recipe; version "
                           "5's held-out set, the hand-written **calibration** requests of the scope probe since "
                           "version 6"),
    "g": (scope_heldout_g, "`steerlab/eval/data/scope_heldout_g.py` (set G, held out): 40 in-scope and 40 off-scope "
                           "requests written by hand after set F was measured and before the version-6 scope recipe, "
                           "never used to build or select anything"),
}
HELDOUT_SET = "g"  # what cards and docs/eval/scope-deflection.* report
TRAINING_SETS = ("a", "b", "c", "d", "e")  # training data of the scope probe (A-D since version 4, E since 6)
CALIBRATION_SETS = ("f",)  # hand-written calibration requests (the threshold holds in their register; E in version 5)


def handwritten_source(set_name: str = HELDOUT_SET) -> str:
    """Where the hand-written set comes from and what it may be used for (a line for reports and cards)."""
    return HANDWRITTEN_SETS[set_name][1]


def handwritten_questions(set_name: str = HELDOUT_SET) -> list[tuple[str, bool]]:
    """A hand-written scope set as ``(text, in_scope)``, off-scope first: ``g`` held out (what cards report), ``a`` to
    ``e`` training data of the scope probe, ``f`` its calibration requests (version 6)."""
    mod = HANDWRITTEN_SETS[set_name][0]
    return [(q, False) for q in mod.OFF_SCOPE] + [(q, True) for q in mod.IN_SCOPE]


def answers_cache(model_id: str, max_tokens: int) -> Path:
    """Greedy answers depend only on the model and the length: cached once for builds and evaluations."""
    return cache_dir() / "scope" / f"answers-{model_id}-{max_tokens}.json"


def run_scope_eval(model_path: str | Path, pack: FeaturePack, *, policy_path: str | Path, profile: str,
                   max_tokens: int = 32, batch: int = 16, n_check: int = 24, seed: int = 0, model=None,
                   tokenizer=None, model_id: str | None = None):
    """Evaluate ``pack`` under ``profile`` of the policy file on the held-out test split (through the runtime, with
    the profile resolved exactly as the server resolves ``X-Steering-Profile``), then re-run a sample of
    ``n_check`` requests through the HF engine to check the engine blocks the same requests and leaves answered
    ones unchanged."""
    model_id = model_id or EMBEDDED_MODEL_ID
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_path)
    model = model or AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    runtime = SteeringRuntime([pack], model.config.hidden_size, max_slots=2 * batch)
    policy = CompiledPolicy.from_config(load_policy(policy_path), runtime)
    rs = resolve_request(runtime, policy, None, profile, None)
    splits, _ = scope_splits(seed)
    report = evaluate_scope(model, tokenizer, runtime, rs.config, rs.block_on, splits["test"], profile=profile,
                            max_tokens=max_tokens, batch=batch, cache_file=answers_cache(model_id, max_tokens))
    if n_check:
        report.engine_check = engine_check(model_path, pack, policy_path, profile, report, n_check, model_id)
    return report


def check_sample(outcomes: list, n: int) -> list:
    """The first ``n/2`` requests of each class (test order) plus up to 4 errors of each kind."""
    off = [o for o in outcomes if not o.in_scope]
    ins = [o for o in outcomes if o.in_scope]
    picked = off[: n // 2] + ins[: n // 2]
    picked += [o for o in off[n // 2:] if not o.blocked][:4] + [o for o in ins[n // 2:] if o.blocked][:4]
    return picked


def engine_check(model_path, pack: FeaturePack, policy_path, profile: str, report, n: int, model_id: str) -> list[dict]:
    """Re-ask a sample through the HF engine, one request at a time: off-scope ones with ``max_tokens`` 1 (the
    prompt decides), in-scope ones with the report's ``max_tokens``, with and without the profile."""
    asker = EngineAsker(model_path, [pack], policy_path, profile, report.feature, max_num_seqs=1, model_id=model_id)

    async def go() -> list[dict]:
        out = []
        for o in check_sample(report.outcomes, n):
            limit = report.max_tokens if o.in_scope else 1
            scoped = await asker(o.text, limit, True)
            blocked = scoped["finish_reason"] == "content_filter"
            same = None
            if o.in_scope and not blocked:
                plain = await asker(o.text, limit, False)
                same = scoped["text"] == plain["text"] and scoped["finish_reason"] == plain["finish_reason"]
            out.append({"question": o.text, "in_scope": o.in_scope, "runtime_blocked": o.blocked,
                        "engine_blocked": blocked, "same_text": same})
        return out

    try:
        return asyncio.run(go())
    finally:
        asker.close()
