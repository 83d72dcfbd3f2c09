"""Steering with the official `openai` client, unmodified: a header per request, or the body `steering` field.

    python examples/openai_client.py            # against `make serve` on 127.0.0.1:8000
"""

import os

from openai import OpenAI

client = OpenAI(base_url=os.environ.get("STEERSERVE_URL", "http://127.0.0.1:8000/v1"),
                api_key=os.environ.get("STEERSERVE_API_KEY", "unused"))
MODEL = "smollm2-135m-instruct"
question = [{"role": "user", "content": "What is your favourite food?"}]

plain = client.chat.completions.create(model=MODEL, messages=question, temperature=0, max_tokens=40)
print("unsteered:", plain.choices[0].message.content)

# 1. the X-Steering header
steered = client.chat.completions.create(model=MODEL, messages=question, temperature=0, max_tokens=40,
                                         extra_headers={"X-Steering": "golden-gate/bridge:add=1.5x"})
print("header   :", steered.choices[0].message.content)
print("applied  :", steered.model_extra["steering"]["applied"])

# 2. the body field (object form); monitors report activations in the response
watched = client.chat.completions.create(
    model=MODEL, messages=[{"role": "user", "content": "Tell me about San Francisco."}], max_tokens=40,
    extra_body={"steering": {"features": [{"feature": "golden-gate/bridge", "op": "monitor"}]}})
print("monitor  :", watched.model_extra["steering"]["monitors"])

# 3. streaming: alerts ride on the chunk where they fire; the summary comes on the last chunk
for chunk in client.chat.completions.create(model=MODEL, messages=question, max_tokens=30, stream=True,
                                            extra_headers={"X-Steering": "golden-gate/bridge:add=1x"}):
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
    if "steering" in (chunk.model_extra or {}):
        print("\nsummary  :", chunk.model_extra["steering"])
