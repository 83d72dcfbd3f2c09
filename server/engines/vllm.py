"""The vLLM engine: steerserve's API, policy, monitors and alerts over vLLM's AsyncLLM (multi-process mode).

Steering itself runs inside vLLM's worker, put there by the plugin (:mod:`steering.vllm.plugin`): this process
resolves each request's config (policy, profiles, bounds) and sends it, already in absolute values, in
``SamplingParams.extra_args``. Monitor readings come back over a ZeroMQ socket keyed by request id
(:mod:`steering.vllm.readings`); a request that watches something has each output held until the readings that
cover it are in, so ``block`` stops it before text past the firing token is sent. Requests with different
steering get different ``cache_salt`` values: they never share prefix-cache blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from transformers import AutoTokenizer

from server.engines.base import Delta, GenerateRequest, ServedModel, TokenLogprob
from steering.monitor import RequestMonitor
from steering.pack import FeaturePack
from steering.runtime import SteeringRuntime
from steering.vllm.config import SECRET_ENV, cache_salt, encode_resolved
from steering.vllm.cpu import cpu_defaults
from steering.vllm.plugin import PACKS_ENV
from steering.vllm.readings import ADDR_ENV, ReadingsInbox

log = logging.getLogger("steerserve.engine.vllm")
READINGS_TIMEOUT_S = 5.0
CPU_DEFAULTS = cpu_defaults()  # an operator's own environment wins


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    """Set environment variables for the duration (vLLM's child processes inherit them), then restore."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _tables_id(packs: list[FeaturePack]) -> str:
    return hashlib.sha256("|".join(sorted(f"{p.id}:{p.manifest.sha256}" for p in packs)).encode()).hexdigest()[:16]


class VLLMEngine:
    """``VLLMEngine(path, packs)``: start vLLM with the steerserve plugin pointed at ``packs``."""

    def __init__(self, model_path: str | Path, packs: list[FeaturePack], *, model_id: str | None = None,
                 max_num_seqs: int = 32, enforce_eager: bool = True, max_model_len: int = 2048,
                 dtype: str = "float16", enable_prefix_caching: bool = True, tensor_parallel_size: int = 1) -> None:
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        for k, v in CPU_DEFAULTS.items():
            os.environ.setdefault(k, v)
        self.model_path = Path(model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self._sock_dir = tempfile.mkdtemp(prefix="steerserve-")
        addr = f"ipc://{self._sock_dir}/readings"
        self.inbox = ReadingsInbox(addr)
        if not enforce_eager:
            log.info("vLLM compiled mode: steering tables are part of the compiled graph (start-up is slower)")
        args = AsyncEngineArgs(model=str(model_path), served_model_name=model_id or self.model_path.name,
                               dtype=dtype, max_model_len=max_model_len, max_num_seqs=max_num_seqs,
                               enforce_eager=enforce_eager, enable_prefix_caching=enable_prefix_caching,
                               tensor_parallel_size=tensor_parallel_size, seed=0)
        # signs the resolved configs this process sends; vLLM's input processor (here) and its workers (children)
        # verify them, so no other client of the engine can send one (one secret per process tree)
        self._secret = os.environ.setdefault(SECRET_ENV, secrets.token_hex(32))
        # the processes vLLM spawns now read the packs and the readings address from the environment
        with _environ({ADDR_ENV: addr, PACKS_ENV: os.pathsep.join(str(p.path) for p in packs)}):
            self.llm = AsyncLLM.from_engine_args(args)
        hf = self.llm.vllm_config.model_config.hf_config
        self.info = ServedModel(id=model_id or self.model_path.name, max_model_len=max_model_len,
                              d_model=hf.hidden_size, num_layers=hf.num_hidden_layers,
                              architecture=(hf.architectures or ["?"])[0])
        self.pack_model = self.info.pack_model()
        self.max_num_seqs = max_num_seqs
        self._set_packs(packs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batch_size = 0

    def _set_packs(self, packs: list[FeaturePack]) -> None:
        # the API-side table resolves specs and names monitor columns; the worker holds the real one
        self.runtime = SteeringRuntime(packs, self.info.d_model, max_configs=2)
        self._tables = _tables_id(packs)

    def _started(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self.inbox.start()

    # -- Engine protocol ---------------------------------------------------------------------------------------
    def model_info(self) -> ServedModel:
        return self.info

    def health(self) -> bool:
        return not self.llm.errored

    def tokenize_chat(self, messages: list[dict]) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self.tokenize(text)

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def reload(self, packs: list[FeaturePack]) -> SteeringRuntime:
        """Reload packs in every worker (between two steps), then here. Called from a thread (admin route)."""
        paths = [str(p.path) for p in packs]
        if self._loop is None:
            raise RuntimeError("engine not started")
        asyncio.run_coroutine_threadsafe(self.llm.collective_rpc("steerserve_reload", args=(paths,)),
                                         self._loop).result(timeout=120)
        self._set_packs(packs)
        return self.runtime

    async def worker_stats(self) -> list[dict]:
        """Each worker's steering counters (``steerserve_stats``)."""
        return await self.llm.collective_rpc("steerserve_stats")

    async def abort(self, request_id: str) -> None:
        await self.llm.abort(request_id)

    async def shutdown(self) -> None:
        self.llm.shutdown()
        self.inbox.close()

    async def generate(self, req: GenerateRequest) -> AsyncIterator[Delta]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        self._started()
        sp_in, key = req.sampling, req.request_id
        local = RequestMonitor.of(req.steering, self.runtime.columns)  # the summary's shape if no reading arrives
        watched = bool(local)
        # every steered request reports back: monitor readings, and the receipt of positions the op edited
        extra = (encode_resolved(key, req.steering, req.steer_on, True, self._secret)
                 if req.steering else None)
        sp = SamplingParams(
            max_tokens=sp_in.max_tokens, temperature=sp_in.temperature, top_p=sp_in.top_p, seed=sp_in.seed,
            stop=list(sp_in.stop) or None, ignore_eos=sp_in.ignore_eos, extra_args=extra,
            logprobs=sp_in.top_logprobs if sp_in.logprobs else None, output_kind=RequestOutputKind.DELTA,
        )
        prompt = {"prompt_token_ids": list(req.prompt_ids)}
        # a monitored request must forward every prompt token (a cached prefix would go unread): its own salt
        salt = f"monitor-{key}" if watched else cache_salt(req.steering, self._tables)
        if salt:
            prompt["cache_salt"] = salt
        readings = self.inbox.expect(key) if req.steering else None
        p_len, n_out, seen_events = len(req.prompt_ids), 0, 0
        self.batch_size += 1
        try:
            async for out in self.llm.generate(prompt, sp, request_id=key):
                c = out.outputs[0]
                n_out += len(c.token_ids)
                d = Delta(text=c.text, token_ids=list(c.token_ids), prompt_tokens=p_len, completion_tokens=n_out,
                          logprobs=self._logprobs(c, sp_in.top_logprobs) if sp_in.logprobs else [])
                finished = c.finish_reason is not None
                # monitored: hold each output until its readings are in (block must act before text leaves);
                # steered only: wait once, at the end, for the receipt
                if readings is not None and c.finish_reason != "abort" and (watched or finished):
                    # the last sampled token has not gone through the model yet: p_len + n_out - 1 tokens have
                    await self.inbox.wait_for(key, p_len + n_out - 1, READINGS_TIMEOUT_S)
                    d.events, seen_events = readings.events[seen_events:], len(readings.events)
                    if any(e.feature in req.block_on for e in d.events):
                        await self.llm.abort(key)
                        d.text, d.token_ids, d.logprobs = "", [], []
                        d.completion_tokens = n_out - len(c.token_ids)
                        d.finish_reason, finished = "content_filter", True
                if finished:
                    d.finish_reason = d.finish_reason or ("abort" if c.finish_reason == "abort" else c.finish_reason)
                    d.monitors = (readings.summary if readings is not None and readings.summary else local.summary())
                    d.positions = readings.positions if readings is not None else None
                yield d
                if finished:
                    return
        finally:
            self.batch_size -= 1
            self.inbox.drop(key)

    def _logprobs(self, c, k: int) -> list[TokenLogprob]:
        out = []
        for tok, lp in zip(c.token_ids, c.logprobs or (), strict=False):
            chosen = lp[tok]
            top = sorted(((v.decoded_token or "", v.logprob) for v in lp.values() if v.rank and v.rank <= k),
                         key=lambda x: -x[1])
            out.append(TokenLogprob(chosen.decoded_token or self.tokenizer.decode([tok]), chosen.logprob, top))
        return out
