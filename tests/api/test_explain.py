"""Issue 15's API: per-token readings on request (``"steering": {"report": "tokens"}``), decoder-direction
neighbours of a feature across loaded packs, and the 2-D feature map."""

from __future__ import annotations

import json

import pytest
import torch

from tests.api.conftest import chat

MON = {"features": [{"feature": "safety/f0", "op": "monitor"}, {"feature": "safety/f1", "op": "monitor"}]}


def test_token_report_lists_every_token_with_its_readings(client):
    r = chat(client, steering={**MON, "report": "tokens"}, messages=[{"role": "user", "content": "hello"}])
    assert r.status_code == 200, r.text
    s = r.json()["steering"]
    toks = s["tokens"]
    prompt = [t for t in toks if t["phase"] == "prompt"]
    completion = [t for t in toks if t["phase"] == "completion"]
    assert [t["index"] for t in toks] == list(range(len(toks)))
    assert len(prompt) == r.json()["usage"]["prompt_tokens"] and len(completion) == r.json()["usage"]["completion_tokens"]
    assert "".join(t["token"] for t in prompt) == "<user>hello"  # the fake engine's chat template, char by char
    assert "".join(t["token"] for t in completion) == r.json()["choices"][0]["message"]["content"]
    assert toks[0]["readings"] == {}  # the attention sink is never read
    assert completion[-1]["readings"] == {}  # the last token was never fed back
    read = toks[1:-1]
    assert all(set(t["readings"]) == {"safety/f0", "safety/f1"} for t in read)
    for name in ("safety/f0", "safety/f1"):  # the per-request summary is the max of the per-token readings
        assert max(t["readings"][name] for t in read) == pytest.approx(s["monitors"][name]["max"], abs=1e-4)
        over = sum(t["readings"][name] > s["monitors"][name]["threshold"] for t in read)
        assert over == s["monitors"][name]["tokens_over"]


def test_token_report_is_opt_in_streams_on_the_last_chunk_and_needs_n_1(client):
    assert "tokens" not in chat(client, steering=MON).json()["steering"]
    plain = chat(client, steering={**MON, "report": "tokens"}).json()["steering"]["tokens"]
    with client.stream("POST", "/v1/chat/completions", json={
            "model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
            "temperature": 0, "stream": True, "steering": {**MON, "report": "tokens"}}) as r:
        frames = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    assert frames[-1]["steering"]["tokens"] == plain
    assert all("tokens" not in f.get("steering", {}) for f in frames[:-1])
    bad = chat(client, steering={**MON, "report": "tokens"}, n=2)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "steering.report"
    bad = chat(client, steering={**MON, "report": "everything"})
    assert bad.status_code == 400 and "report" in bad.json()["error"]["param"]


def test_neighbors_rank_by_decoder_cosine_across_packs(client, packs):
    r = client.get("/v1/steering/packs/safety/features/f0/neighbors", params={"k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["feature"] == "safety/f0"
    got = [(n["feature"], n["cosine"]) for n in body["data"]]
    units = {f"{p.id}/{f.name}": torch.nn.functional.normalize(p.W_dec[f.index].float(), dim=0)
             for p in packs for f in p.manifest.features}
    want = sorted(((k, float(units[k] @ units["safety/f0"])) for k in units if k != "safety/f0"),
                  key=lambda kv: -kv[1])
    assert [k for k, _ in got] == [k for k, _ in want]
    assert [c for _, c in got] == pytest.approx([c for _, c in want], abs=1e-5)
    assert client.get("/v1/steering/packs/nope/features/f0/neighbors").status_code == 404
    r = client.get("/v1/steering/packs/safety/features/nope/neighbors")
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_feature"
    assert client.get("/v1/steering/packs/safety/features/f0/neighbors", params={"k": 0}).status_code == 400


def test_feature_map_places_every_loaded_feature(client, packs):
    data = client.get("/v1/steering/map").json()["data"]
    assert {d["feature"] for d in data} == {f"{p.id}/{f.name}" for p in packs for f in p.manifest.features}
    assert all(isinstance(d["x"], float) and isinstance(d["y"], float) and d["label"] for d in data)


def test_full_pack_view_has_card_descriptions_and_examples_when_the_pack_has_them(client, packs):
    from steering.pack.examples import EXAMPLES_FILE, write_examples

    safety = next(p for p in packs if p.id == "safety")
    view = client.get("/v1/steering/packs/safety").json()
    assert view["card"].startswith("# test pack") and view["examples_source"] is None
    assert all(f["examples"] == [] and "description" in f for f in view["features"])
    write_examples(safety.path, {"f0": [(3.5, "a «bad» call"), (float("nan"), "dropped"), (1.25, "x «y» z")]},
                   command="steer features top --pack /root/secret/packs/safety --write-examples", corpus="mix")
    view = client.get("/v1/steering/packs/safety").json()
    assert view["features"][0]["examples"] == [{"activation": 3.5, "context": "a «bad» call"},
                                               {"activation": 1.25, "context": "x «y» z"}]
    assert view["features"][1]["examples"] == []
    assert "/root/secret" not in view["examples_source"]["command"]  # paths redacted like provenance
    (safety.path / EXAMPLES_FILE).write_text('{"format": "steering-pack-examples", "features": {"f0": 7}}')
    view = client.get("/v1/steering/packs/safety")  # a malformed file means no examples, never an error
    assert view.status_code == 200 and view.json()["examples_source"] is None
