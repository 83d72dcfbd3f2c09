"""``steer model prepare``: the embedded model.

``steering.model`` is imported inside the command, not at the top, so ``steer --help`` starts without torch."""

from __future__ import annotations

import argparse

from server.cli.common import Group


def register(sub) -> None:
    g = Group(sub, "model", "manage the embedded model", dest="mcmd")
    g.command("prepare", "convert the packaged GGUF into a safetensors checkpoint (idempotent)",
              ["steer model prepare                           # make install runs it once"], cmd_model_prepare)


def cmd_model_prepare(a: argparse.Namespace) -> int:
    from steering.model import prepare_embedded_model

    print(prepare_embedded_model())
    return 0
