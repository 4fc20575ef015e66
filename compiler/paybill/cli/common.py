"""Options and helpers shared by commands."""

from __future__ import annotations

import os
from pathlib import Path

import click

from paybill.cli.compile_fast import DEFAULT_SPECS
from paybill.diagnostics.render import FORMATS, render

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE = 0, 1, 2



class SpecsPath(click.Path):
    """The SPECS argument: a folder or file, never the empty string.

    ``Path("")`` is ``.``, so ``paybill compile "$SPECS"`` with SPECS unset read the whole working
    directory (a spec repository's workflows, schemas, anything YAML) instead of reporting the mistake.
    """

    def convert(self, value: str | os.PathLike[str], param: click.Parameter | None,
                ctx: click.Context | None) -> str | bytes | os.PathLike[str]:
        if value == "":
            self.fail("an empty path names no specs (leave SPECS out for './specs')", param, ctx)
        return super().convert(value, param, ctx)


specs_argument = click.argument(
    "specs", required=False, default=str(DEFAULT_SPECS),
    type=SpecsPath(path_type=Path, file_okay=True, dir_okay=True),
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="How to print diagnostics: text for people, json for tools, github for Actions annotations.",
)


def require_specs(specs: Path) -> None:
    """A missing specs folder is a usage error (exit 2), not a diagnostic."""
    if not specs.exists():
        if specs.is_symlink():  # exists() follows the link: a loop or a missing target reads as "absent"
            raise click.UsageError(f"specs folder '{specs}' is a symbolic link that leads nowhere "
                                   "(a loop, or its target is missing)")
        # a first run outside a spec repository: say how to get one, not only what is missing
        hint = " (run paybill in your spec repository, or create one with: paybill init DIR)" \
            if specs == DEFAULT_SPECS else ""
        raise click.UsageError(f"specs folder '{specs}' does not exist{hint}")


def print_diagnostics(fmt: str, diagnostics: list, files: int, noun: str = "file", omitted: int = 0) -> None:
    text = render(fmt, diagnostics, files, noun, omitted)
    click.echo(text, nl=False)


def write_report(out: Path, text: str, *, append: bool = False) -> None:
    """Write ``text`` to ``out`` (``--out``, ``--github-output``): a file, or a pipe some process reads
    (``--out >(gzip > plan.gz)``); ``append`` adds to the file instead of replacing it.

    Opened without blocking, so a FIFO nobody reads is an error at once instead of a hang; a symlink
    loop, a folder or a full disk is click's "could not open file" error (exit 1), never a traceback.
    """
    import errno

    try:
        mode = os.O_APPEND if append else os.O_TRUNC
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | mode | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        reason = "a FIFO no process is reading" if exc.errno == errno.ENXIO else exc.strerror or str(exc)
        raise click.FileError(os.fspath(out), reason) from None
    try:
        os.set_blocking(fd, True)  # a reader may be slow (as paybill.contract.files.open_regular does)
        with os.fdopen(fd, "wb", closefd=True) as handle:
            fd = -1
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        raise click.FileError(os.fspath(out), exc.strerror or str(exc)) from None
    finally:
        if fd >= 0:
            os.close(fd)
