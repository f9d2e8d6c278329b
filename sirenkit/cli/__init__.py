"""The `sirenkit` command. Thin: it parses, builds the configuration and calls the library.

Errors a user can cause (a missing file, a size that makes no sense, a foreign checkpoint) end
in one line on stderr and exit code 2; a diverged run exits 3, an interrupted one 130 (Ctrl-C) or
143 (SIGTERM), with a checkpoint to resume from; a rank of a data-parallel fit whose peer ended exits 4.

Under torchrun, the commands in `DISTRIBUTED` share their work among the ranks; any other runs
on rank 0 only, and says so (see `_runs_here`).

The commands live beside this module: `sirenkit.cli.fit` (`sirenkit fit ...`),
`sirenkit.cli.studies` (poisson, fuse, compare, example, solve), `sirenkit.cli.models` (render,
mesh, eval-mesh, info, compress, decompress); the options they share in `sirenkit.cli.options`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import sys
import threading
from typing import Any

import click

from sirenkit.cli.fit import fit_group
from sirenkit.cli.models import (
    compress_command,
    decompress_command,
    eval_mesh_command,
    info_command,
    mesh_command,
    render_command,
)
from sirenkit.cli.options import echo
from sirenkit.cli.studies import compare_command, example_command, fuse_command, poisson_command, solve_command
from sirenkit.engine.parallel import RankLost, data_parallel, launched_rank, launched_world


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="sirenkit")
def app() -> None:
    """Fit sinusoidal representation networks (SIREN) to signals and render them back."""


DISTRIBUTED = (fit_group, poisson_command, fuse_command, compare_command)
"""The commands that share their work among torchrun's ranks: one signal fitted by all of them
(data parallel), or a folder's signals shared out. Any other command runs on rank 0 only."""

for command in (*DISTRIBUTED, example_command, solve_command, render_command, mesh_command, eval_mesh_command,
                info_command, compress_command, decompress_command):
    app.add_command(command)


def one_line(error: BaseException) -> str:
    """The error's message on one line (a usage error's as click formats it)."""
    text = error.format_message() if isinstance(error, click.ClickException) else str(error)
    return " ".join(text.split()) or type(error).__name__


class _EchoHandler(logging.Handler):
    """Prints the library's log records on the current stderr, as the CLI's own lines (escaped, as
    every line the CLI prints: a record may name a file)."""

    def emit(self, record: logging.LogRecord) -> None:
        echo(f"sirenkit: {record.getMessage()}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code. While it runs, the library's log
    records (it logs and returns; the command line is where messages are printed) go to stderr."""
    library = logging.getLogger("sirenkit")
    handler, level, propagate = _EchoHandler(), library.level, library.propagate
    library.addHandler(handler)
    library.setLevel(logging.INFO)
    library.propagate = False
    try:
        return _main(argv)
    finally:
        library.removeHandler(handler)
        library.setLevel(level)
        library.propagate = propagate


def _main(argv: list[str] | None) -> int:
    terminated: list[int] = []

    def on_terminate(number: int, frame: Any) -> None:  # outside the training loop (which stops at a step)
        terminated.append(number)
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_terminate) if main_thread else None
    try:
        with contextlib.ExitStack() as launched:
            if launched_world() > 1 and not _runs_here(argv, launched):
                return 0
            return _run_app(argv, terminated)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _runs_here(argv: list[str] | None, launched: contextlib.ExitStack) -> bool:
    """Under torchrun: whether this rank runs the command. One in `DISTRIBUTED` runs on every
    rank, in the process group (rank 0 reports; the others' warnings and errors still go to
    stderr). Any other runs on rank 0 alone, which says so; the other ranks end at once, without
    joining a process group (rank 0 never joins one)."""
    command = _command_in(sys.argv[1:] if argv is None else argv)
    if command not in DISTRIBUTED:
        if launched_rank() != 0:
            return False
        if command is not None:
            echo(f"sirenkit: {command.name} is not distributed: it runs on rank 0 only (the other ranks exit)",
                 err=True)
        return True
    launched.enter_context(data_parallel())
    if launched_rank() != 0:
        launched.enter_context(contextlib.redirect_stdout(io.StringIO()))
        library = logging.getLogger("sirenkit")
        launched.callback(library.setLevel, library.level)
        library.setLevel(logging.WARNING)
    return True


def _command_in(args: list[str]) -> click.Command | None:
    """The command `args` name (the first word that is not an option: the group's own options,
    --help and --version, take no value), or None."""
    name = next((arg for arg in args if not arg.startswith("-")), None)
    return app.commands.get(name) if name is not None else None


def _run_app(argv: list[str] | None, terminated: list[int]) -> int:
    from sirenkit.engine.loop import TrainingDiverged, TrainingInterrupted

    try:
        code = app.main(args=argv, prog_name="sirenkit", standalone_mode=False)
        if isinstance(code, int) and code:  # a command's Exit(n): without standalone mode click returns it
            return code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:  # usage errors: one line, exit 2
        echo(f"sirenkit: error: {one_line(error)}", err=True)
        return 2
    except (click.Abort, KeyboardInterrupt):
        echo(f"sirenkit: interrupted ({'SIGTERM' if terminated else 'SIGINT'})", err=True)
        return 143 if terminated else 130
    except TrainingInterrupted as error:  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them
        echo(f"sirenkit: {error}", err=True)
        return 128 + error.signal_number
    except TrainingDiverged as error:
        echo(f"sirenkit: error: {error}", err=True)
        return 3
    except RankLost as error:  # every other rank of a data-parallel fit says it too, each in its line
        echo(f"sirenkit: error: {one_line(error)}", err=True)
        return 4
    except (ValueError, OSError) as error:
        echo(f"sirenkit: error: {one_line(error)}", err=True)
        return 2
    except MemoryError:
        echo("sirenkit: error: out of memory: ask for a smaller size, resolution, rate or network", err=True)
        return 2
    except RuntimeError as error:
        if not _out_of_memory(error):
            raise
        echo(f"sirenkit: error: out of memory ({one_line(error)[:160]}): ask for a smaller size, "
             f"resolution, rate or network", err=True)
        return 2
    except BaseException as error:
        if type(error).__name__ != "PanicException":  # the range coder's (Rust) panic on a damaged stream
            raise
        echo(f"sirenkit: error: the range coder refused its data ({one_line(error)[:160]}): the file is "
             f"damaged or was not written by sirenkit", err=True)
        return 2
    return 0


def _out_of_memory(error: RuntimeError) -> bool:
    """Whether PyTorch's allocator (CPU or CUDA) failed, as opposed to a bug."""
    text = str(error)
    return "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text


def run() -> None:
    sys.exit(main())
