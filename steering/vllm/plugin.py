"""steerserve as a vLLM plugin (entry point ``vllm.general_plugins: steerserve = steering.vllm.plugin:register``).

vLLM runs general plugins in every process it starts (API server, engine core, workers) before the model loads.
:func:`register` patches, once per process:

* the model runner's ``load_model``: after the weights load and *before* torch.compile / CUDA-graph capture, attach
  :class:`~steering.vllm.worker.WorkerSteering` (hooks on the pack layers) when packs are configured;
* the model runner's ``_model_forward``: map the step's tokens to config rows before the pass and fold monitor
  readings after it;
* the worker: ``steerserve_reload`` for ``collective_rpc`` (pack hot reload);
* the input processor (API process): validate ``extra_args["steering"]`` against the packs (a bad spec is a 400,
  never a silently unsteered request) and set the prefix-cache salt from the steering.

Packs come from ``--additional-config '{"steerserve": {"packs": ["<dir>", ...]}}'`` or, failing that, the
``STEERSERVE_VLLM_PACKS`` environment variable (``os.pathsep``-separated). Each path is a pack directory or a root of
pack directories. Without either the plugin does nothing at all.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from steering.pack import ModelInfo, load_packs

log = logging.getLogger("steerserve.vllm")
PACKS_ENV = "STEERSERVE_VLLM_PACKS"
_patched = False


def plugin_options(vllm_config) -> dict:
    extra = getattr(vllm_config, "additional_config", None) or {}
    opts = dict(extra.get("steerserve", {})) if isinstance(extra, dict) else {}
    if "packs" not in opts and os.environ.get(PACKS_ENV):
        opts["packs"] = os.environ[PACKS_ENV].split(os.pathsep)
    return opts


def model_info(model_config) -> ModelInfo:
    hf = model_config.hf_config
    name = model_config.served_model_name
    name = name[0] if isinstance(name, list | tuple) else name
    if not name or "/" in str(name) or name == model_config.model:
        name = Path(model_config.model).name
    return ModelInfo.from_hf_config(hf, str(name))


def _attach(runner) -> None:
    opts = plugin_options(runner.vllm_config)
    if not opts.get("packs"):
        return
    # plugin entry: vLLM imports this module in every process it starts; the worker-side modules (and torch work
    # they bring) load only in the process that attaches, when it attaches
    from steering.vllm.config import process_secret
    from steering.vllm.readings import ReadingsPublisher
    from steering.vllm.worker import WorkerSteering

    info = model_info(runner.model_config)
    packs = load_packs(opts["packs"], info)
    if not packs:
        log.warning("steerserve: no packs found under %s", opts["packs"])
        return
    sched = runner.scheduler_config
    # tensor parallel: every rank sees the full residual stream (after the all-reduce) and applies the same delta;
    # only rank 0 reports monitor readings, so the API process gets each reading once
    try:
        from vllm.distributed import get_tensor_model_parallel_rank

        rank = get_tensor_model_parallel_rank()
    except Exception:  # not initialised (single process)
        rank = 0
    max_tokens = max(sched.max_num_batched_tokens, runner.model_config.max_model_len) + 1024
    runner.steerserve = WorkerSteering(
        runner.get_model(), packs, d_model=info.d_model, max_tokens=max_tokens, max_reqs=sched.max_num_seqs,
        column_capacity=int(opts.get("column_capacity", 64)), device=runner.device,
        publisher=ReadingsPublisher.from_env() if rank == 0 else None, secret=process_secret(),
    )


def _wrap_load_model(cls) -> None:
    orig = cls.__dict__.get("load_model")
    if orig is None or getattr(orig, "_steerserve", False):
        return

    @functools.wraps(orig)
    def load_model(self, *args, **kwargs):
        out = orig(self, *args, **kwargs)
        _attach(self)
        return out

    load_model._steerserve = True
    cls.load_model = load_model


def _wrap_model_forward(cls) -> None:
    orig = cls._model_forward

    @functools.wraps(orig)
    def _model_forward(self, *args, **kwargs):
        st = getattr(self, "steerserve", None)
        if st is None:
            return orig(self, *args, **kwargs)
        positions = kwargs.get("positions")
        st.before_forward(self, int(positions.shape[-1]))
        out = orig(self, *args, **kwargs)
        st.after_forward()
        return out

    cls._model_forward = _model_forward


def _steerserve_reload(worker, paths: list[str]) -> int:
    runner = worker.model_runner
    st = getattr(runner, "steerserve", None)
    if st is None:
        raise RuntimeError("steerserve is not attached in this worker (no packs were configured at start-up)")
    packs = load_packs(paths, model_info(runner.model_config))
    st.reload(packs)
    return len(packs)


def _steerserve_stats(worker) -> dict:
    """Worker-side counters for tests and operators: config rows and requests held, readings dropped."""
    st = getattr(worker.model_runner, "steerserve", None)
    if st is None:
        return {"attached": False}
    return {"attached": True, "rows_in_use": st.rt.rows.in_use(), "requests": len(st.reqs),
            "layers": st.layers, "readings_dropped": st.publisher.dropped if st.publisher else 0,
            "unsteered": st.unsteered}


def _wrap_input_processor() -> None:
    from vllm.v1.engine.input_processor import InputProcessor

    orig = InputProcessor.process_inputs

    @functools.wraps(orig)
    def process_inputs(self, *args, **kwargs):
        req = orig(self, *args, **kwargs)
        sp = getattr(req, "sampling_params", None)
        if sp is not None and sp.extra_args:
            # validate every request that carries extra_args, whatever else it sets (a client may send its own
            # cache_salt): a bad or forged config is a 400 here and never reaches the engine
            salt = _salt_for(self.vllm_config, sp.extra_args)
            if salt and req.cache_salt is None:
                req.cache_salt = salt
        return req

    InputProcessor.process_inputs = process_inputs


_api_runtimes: dict[int, object] = {}


def _api_runtime(vllm_config):
    """Packs loaded in the API process, only to validate ``vllm_xargs`` specs and compute cache salts."""
    from steering.runtime import SteeringRuntime  # plugin entry: only the API process needs the runtime

    rt = _api_runtimes.get(id(vllm_config))
    if rt is None:
        opts = plugin_options(vllm_config)
        info = model_info(vllm_config.model_config)
        rt = SteeringRuntime(load_packs(opts.get("packs") or [], info), info.d_model, max_configs=2)
        _api_runtimes[id(vllm_config)] = rt
    return rt


def _salt_for(vllm_config, extra_args) -> str | None:
    # plugin entry: loaded on the first request that carries steering, not in every vLLM process at start-up
    from steering.errors import SteeringError
    from steering.vllm.config import XARGS_RESOLVED, cache_salt, decode, process_secret, verify_resolved

    try:
        if isinstance(extra_args, dict) and XARGS_RESOLVED in extra_args:
            verify_resolved(extra_args[XARGS_RESOLVED], process_secret())
            return None  # signed by the steerserve API process, which sets the salt itself
        args = decode(extra_args, _api_runtime(vllm_config), secret=process_secret())
    except SteeringError as e:  # vLLM answers a VLLMValidationError with a 400 naming the parameter
        try:
            from vllm.exceptions import VLLMValidationError
        except ImportError:  # older vLLM: a plain ValueError is a 400 there
            raise ValueError(f"invalid steering in vllm_xargs: {e.message}") from None
        raise VLLMValidationError(f"invalid steering: {e.message}", parameter=e.param or "vllm_xargs") from None
    return cache_salt(args.config) if args else None


def register() -> None:
    """The ``vllm.general_plugins`` entry point. Idempotent; cheap when no packs are configured."""
    global _patched
    if _patched:
        return
    _patched = True
    from vllm.v1.worker.gpu_model_runner import GPUModelRunner
    from vllm.v1.worker.worker_base import WorkerBase

    _wrap_load_model(GPUModelRunner)
    try:
        from vllm.v1.worker.cpu_model_runner import CPUModelRunner
    except ImportError:  # CUDA builds may not ship the CPU runner
        pass
    else:
        _wrap_load_model(CPUModelRunner)
    _wrap_model_forward(GPUModelRunner)
    WorkerBase.steerserve_reload = _steerserve_reload
    WorkerBase.steerserve_stats = _steerserve_stats
    _wrap_input_processor()
