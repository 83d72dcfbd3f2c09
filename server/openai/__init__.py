"""The OpenAI-compatible routes, one package per resource as vLLM lays out ``vllm/entrypoints/openai/``:
``<resource>/api_router.py`` (the route), ``protocol.py`` (its request model), ``serving.py`` (request → engine →
response: its stream-chunk builder beside its final-body builder). What chat and text completions share is in
``serving.py`` here; the shared wire pieces are ``server/protocol.py``, the generation machinery
``server/generation.py``."""
