"""The `steer` command line: help with examples everywhere, and pack import → verify → inspect end to end."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys

import pytest
import torch

from server.cli.main import OFFLINE, parser
from tests.unit.test_importers import write_control_vector


def steer(*args):
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("cmd", [[], ["serve"], ["pack", "verify"], ["pack", "import"], ["probe", "train"],
                                 ["bench"], ["corpus", "build"], ["sae", "train"], ["features", "top"],
                                 ["features", "search"], ["keys", "hash"]])
def test_help(cmd):
    r = steer(*cmd, "--help")
    assert r.returncode == 0 and "usage: steer" in r.stdout


def _subcommands(p, path=()):
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sp in a.choices.items():
                yield path + (name,), sp
                yield from _subcommands(sp, path + (name,))


def test_every_command_and_group_has_examples_in_its_help():
    seen = dict(_subcommands(parser([])))
    for g in OFFLINE:  # an offline group is filled in only when the command line names it
        seen.update((path, sp) for path, sp in _subcommands(parser([g])) if path[0] == g)
    assert {"serve", "pack", "model", "keys", *OFFLINE} <= {p[0] for p in seen}
    assert ("bench", "soak") in seen and ("eval", "bias") in seen and ("pack", "inspect") in seen
    for path, sp in seen.items():
        assert "examples:\n  steer " in sp.format_help(), path


def test_serving_commands_never_import_steerlab():
    """The serving image has no steerlab/: `steer serve` and `steer --help` must not need it."""
    code = ("import sys; from server.cli.main import parser; parser(['serve']).format_help(); "
            "parser(['pack', 'inspect', 'x']); from server.app import build_app; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'steerlab'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


def test_help_lists_only_serving_commands_without_steerlab(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "steerlab" else real(name, *a))
    listed = {path[0] for path, _ in _subcommands(parser(["--help"]))}
    assert listed == {"serve", "pack", "model", "keys"}


def test_import_verify_inspect(tmp_path):
    write_control_vector(tmp_path / "cv.gguf", {3: (torch.arange(16.0) + 1).numpy()})
    dst = tmp_path / "packs" / "calm"
    r = steer("pack", "import", "gguf", str(tmp_path / "cv.gguf"), str(dst), "--features", "0", "--labels", "calm",
              "--id", "calm", "--layer", "3", "--model-name", "m", "--d-model", "16", "--num-layers", "4",
              "--max-activation", "2.5")
    assert r.returncode == 0, r.stderr
    r = steer("pack", "verify", str(dst))
    assert r.returncode == 0 and r.stdout.startswith("ok")
    r = steer("pack", "inspect", str(dst))
    assert "calm" in r.stdout and "max_activation=2.5" in r.stdout


def test_import_error_is_a_message_not_a_traceback(tmp_path):
    r = steer("pack", "import", "saelens", str(tmp_path / "missing"), str(tmp_path / "out"), "--features", "0",
              "--id", "x", "--layer", "1")
    assert r.returncode == 1 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_kubernetes_service_link_variable_does_not_break_settings(monkeypatch):
    """A Service named `steerserve` makes Kubernetes set STEERSERVE_PORT=tcp://ip:port in every pod."""
    from server.settings import ServerSettings

    monkeypatch.setenv("STEERSERVE_PORT", "tcp://10.96.0.12:8000")
    assert ServerSettings().port == 8000
    monkeypatch.setenv("STEERSERVE_PORT", "9000")
    assert ServerSettings().port == 9000
