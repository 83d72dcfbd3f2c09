"""Issue 15 acceptance on the real server: a policy with ``action: annotate`` on the unsafe-code monitor appends the
operator's note to a reply that fired (streamed or not), lists it in ``steering.annotations``, and leaves a reply
that did not fire alone."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.conftest import start_server

pytestmark = pytest.mark.slow
NOTE = "Security review: the code in this conversation looks unsafe (shell command built from input)."
INSECURE = 'Fix this: import os\ndef rm(name):\n    os.system("rm " + name)\n'


@pytest.fixture(scope="module")
def client(model_path, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("annotate") / "policy.yaml"
    cfg.write_text(f"""
steering:
  mandatory_monitors: [unsafe-code/python]
monitors:
  unsafe-code/python: {{action: annotate, note: "{NOTE}"}}
alerts: {{log: true}}
""")
    proc, base = start_server("--config", str(cfg))
    yield openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0)
    proc.terminate()
    proc.wait(timeout=30)


def ask(client, content, **kw):
    return client.chat.completions.create(model="smollm2-135m-instruct", temperature=0, max_tokens=24,
                                          messages=[{"role": "user", "content": content}], **kw)


def test_annotate_appends_the_note_to_a_reply_that_fired(client):
    r = ask(client, INSECURE)
    s = r.model_extra["steering"]
    assert s["monitors"]["unsafe-code/python"]["fired"]
    assert s["alerts"][0]["action"] == "annotate"
    assert s["annotations"] == [{"feature": "unsafe-code/python", "note": NOTE}]
    text = r.choices[0].message.content
    assert text.endswith("\n\n" + NOTE) and text.count(NOTE) == 1
    streamed = "".join(c.choices[0].delta.content or "" for c in ask(client, INSECURE, stream=True) if c.choices)
    assert streamed == text  # same reply, same note, streamed


def test_a_reply_that_did_not_fire_gets_no_note(client):
    r = ask(client, "What is your favourite food?")
    s = r.model_extra["steering"]
    assert not s["monitors"]["unsafe-code/python"]["fired"]
    assert NOTE not in r.choices[0].message.content and "annotations" not in s
