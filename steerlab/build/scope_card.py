"""The ``topics`` pack's card (README): how it was built, the data and licences, the calibration sweep and the
held-out numbers, all from the build record of :func:`steerlab.build.scope_pack.build_scope_pack` and the report of
:mod:`steerlab.eval.scope`."""

from __future__ import annotations

from pathlib import Path

from steering.pack import write_pack_card
from steerlab.build.scope_data import LICENSES, TEST_ONLY
from steerlab.build.scope_pack import FEATURE, PACK_ID, PROFILE
from steerlab.eval.scope import examples, summary_table


def _statistic(method: str) -> str:
    if method == "last":
        return ("the probe logit `h·w + b` at the last token of the chat-formatted prompt (the assistant header's "
                "newline, where the model has read the whole request and is about to answer), read once per request; "
                "no other prompt token and no generated token is read.")
    return ("the max of the probe logit `h·w + b` over every token of the chat-formatted request but position 0 (the "
            "template's system turn included) and over the answer tokens fed back while generating.")


def card(m: dict, r: dict, report) -> str:
    """The pack's README: how it was built, the data and licences, the calibration sweep, held-out numbers."""
    f = m["features"][0]
    last = r["chosen"]["method"] == "last"
    tail = ("The monitor reads one position, the prompt's last, so an answer of any length can never fire it." if last
            else f"The preservation figure is for answers of ≤ {report.max_tokens} tokens: longer answers give the "
                 "monitor more tokens to fire on.")
    hand_calib = "calib_handwritten_deflection" in r["chosen"]

    def pooling(x: dict) -> str:
        w = x.get("handwritten_weight", 1.0)
        return x["method"] + (f" (hand-written ×{w:g})" if w != 1 else "")

    sweep_rows = "\n".join(f"| {x['layer']} | {pooling(x)} | {x['calib_auroc']:.3f} | {x['calib_deflection']:.1%} | "
                           f"{x['calib_in_scope_fired']:.1%} | "
                           + (f"{x['calib_handwritten_deflection']:.1%} | {x['calib_handwritten_in_scope_fired']:.1%} | "
                              if hand_calib else "")
                           + f"{x['threshold']:.3f} |" for x in r["sweep"])
    sweep_head = ("| layer | pooling | AUROC | off-scope deflected | in-scope fired | "
                  + ("hand-written off-scope deflected | hand-written in-scope fired | " if hand_calib else "")
                  + "threshold |\n|---|---|---|---|---|" + ("---|---|" if hand_calib else "") + "---|")
    counts = "; ".join(f"{s}: " + ", ".join(f"{k} {v}" for k, v in c.items()) for s, c in r["counts"].items())
    n_hand = r["counts"].get("train", {}).get("handwritten", 0)
    n_cal = r["counts"].get("calib", {}).get("handwritten", 0)
    handwritten = (f"\n  {n_hand} hand-written requests join the training split as written (source `handwritten`: sets "
                   "A-E, `steerlab/eval/data/scope_heldout{,_b,_c,_d,_e}.py`, the held-out or dev sets of versions "
                   "1-4; casual, typo'd and multi-sentence requests the packaged sources lack)" if n_hand else "")
    handwritten += (f"; {n_cal} more (set F, `scope_heldout_f.py`, version 5's held-out set) join the calibration "
                    "split, where the threshold holds its rate in their register too; set G stays held out."
                    if n_cal else "; set G stays held out." if n_hand else "")
    register = (f" and at most {r['target_fpr']:.0%} of the hand-written in-scope calibration requests (each register "
                "calibrated on its own, the higher threshold kept)" if hand_calib else "")
    weighting = (" The `last` probe is fit once per weight of a hand-written training request against a packaged one "
                 f"({', '.join(f'×{w:g}' for w in r.get('weights', (1.0,)))}); with hand-written calibration requests "
                 "the candidate with the best *mean* of the two registers' deflection ships (packaged and hand-written "
                 "count equally)." if hand_calib and len(r.get("weights", ())) > 1 else "")
    dropped = ", ".join(f"{k} {v['mention_health']}" for k, v in r["dropped"].items() if v["mention_health"])
    return f"""# Topics: scope of a health assistant (`{PACK_ID}/{FEATURE}`) — monitor

{m['description']}

Use: `steer serve --config examples/scope-health.yaml`, then send `X-Steering-Profile: {PROFILE}` (or body
`"steering": {{"profile": "{PROFILE}"}}`). The profile monitors `{PACK_ID}/{FEATURE}` and the policy's action
`block` ends an off-scope request with `finish_reason: "content_filter"` before any token is generated. The
client shows its own deflection message ("I can only help with health questions"); the server adds no text.

## How it was built
- Command: `{r['command'] or 'steer probe train --task scope'}`
- Data (`steerlab/build/scope_data.py`): in-scope = health questions, off-scope = general questions.
  {counts}. Off-scope questions that name a health term were removed ({dropped}); duplicates removed across
  sources. {', '.join(f'`{s}`' for s in TEST_ONLY)} are test-only sources (never seen at build time).
  {r.get('restyle', 0):.0%} of the train and calibration questions of *both* classes are rephrased casually
  (`steerlab/build/restyle.py`: greetings, context sentences, texting spelling, typos, lower case), so that style
  carries no label; the test split is left as packaged.{handwritten}
- Licences: {m['provenance']['license']}; test-only sources: {'; '.join(LICENSES[s] for s in TEST_ONLY)}.
- Statistic: what the serving monitor computes — {_statistic(r['chosen']['method'])}
  In-scope requests are measured with their greedy answer (≤ {r['max_new_tokens']} tokens).
- Probe: layer × pooling chosen on the calibration split (table below). `tokens` = per-token logistic regression
  (every token of an off-scope request positive); `max` = logistic regression on the per-request max (multiple
  instance learning, warm-started from `tokens`, Adam {r['steps']} steps, L2 {r['l2']}), in-scope answers as
  negative bags; `last` = logistic regression on the residual at each request's last prompt token (the pack
  feature's `read_at: last_prompt_token`: the serving monitor reads that one position).{weighting} Chosen: layer
  {r['chosen']['layer']}, `{pooling(r['chosen'])}`.
- Threshold {f['threshold']}: at most {r['target_fpr']:.0%} of in-scope *calibration* requests
  ({'prompt' if last else 'prompt + answer'}) over it{register}.
  `max_activation` = p99 of the off-scope training requests' statistic = {f['max_activation']}.

Calibration split (not held out: used to choose and calibrate; threshold re-fitted per row):
{sweep_head}
{sweep_rows}

## Measured on held-out questions (reproduce: `steer eval scope --out docs/eval`)
{summary_table(report)}

Plot: [docs/eval/scope.png](../../../docs/eval/scope.png) (histogram of the statistic per class, threshold line).

{examples(report)}

Limits, honestly: "off-scope" is defined by the sources (general trivia, chit-chat, coding requests), with a word
filter removing health questions from them; the filter is imperfect both ways (a few health-flavoured trivia
questions remain off-scope, and some off-scope questions that mention e.g. "heart" were dropped). The probe is
only as good as SmolLM2-135M's layer-{r['chosen']['layer']} representation of "is this about health"; questions
about medicine's history, biology trivia or wellness sit near the boundary. {tail}
"""


def write_card(out: Path, r: dict, report) -> None:
    write_pack_card(out, card(r["pack"].manifest.model_dump(), r, report))
