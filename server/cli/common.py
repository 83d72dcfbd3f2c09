"""How every ``steer`` command is declared: a --help that ends with its examples, command groups whose --help
gathers their subcommands' examples. Used by the serving commands here and the offline ones in ``steerlab/cli/``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Command = Callable[[argparse.Namespace], int]


def _epilog(examples: list[str]) -> str:
    """An example may span lines (shell continuations): its later lines are indented further."""
    return "examples:\n" + "\n".join("  " + e.replace("\n", "\n      ") for e in examples)


def command(sub, name: str, help: str, examples: list[str], fn: Command) -> argparse.ArgumentParser:
    """``steer NAME`` (or ``steer GROUP NAME`` when ``sub`` is a group's): runs ``fn(args)``."""
    p = sub.add_parser(name, help=help, description=help, epilog=_epilog(examples),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(fn=fn)
    return p


class Group:
    """``steer NAME …``: a command group. Its --help lists its subcommands and the first example of each."""

    def __init__(self, sub, name: str, help: str, dest: str) -> None:
        self.parser = sub.add_parser(name, help=help, description=help,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
        self.sub = self.parser.add_subparsers(dest=dest, required=True)
        self.examples: list[str] = []

    def command(self, name: str, help: str, examples: list[str], fn: Command) -> argparse.ArgumentParser:
        self.examples.append(examples[0])
        self.parser.epilog = _epilog(self.examples)
        return command(self.sub, name, help, examples, fn)
