"""``paybill compile`` up to the point where it knows whether any stage must run, without click.

At 10,000 tenants a compile with no change (the whole-compile short cut, :mod:`paybill.write.shortcut`)
or an identity edit (the delta compile, :mod:`paybill.cli.compile_delta`) costs ~0.3 s of CPU, and
importing click and the compile command's click-built module was ~25 ms of it (click imports
``inspect``, ``typing``, ``uuid``, ``datetime``...). Neither needs click: they parse no option beyond
the specs folder, ``--out`` and ``--format``, and print one text.

So :func:`paybill.cli.main.main` first offers the command line to :func:`compile_without_click`. It
takes only the plainest form, ``compile [SPECS] [--out OUT] [--format FMT]`` (each at most once,
``--opt=value`` too, nothing else: no other option, no ``--``, no value starting with ``-``), and only
when click would accept it as it is (the specs an existing readable folder, ``--out`` an existing
readable folder that does not hold the specs, a known format, a cache folder). Everything else returns
at once and click parses the command line as before: errors, help and every other option stay click's.

When it takes the command line it runs exactly what ``paybill compile`` runs first,
:func:`without_stages` (the same function the click command calls): the spare tree's lease, the spec
scan, the short cut and the delta compile. When those print, it prints the same text and ends the
process as the command does; otherwise it hands its work (the lease and the scan) over to the click
command (:func:`handed_over`), which goes on from there with the stages, so nothing is done twice.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, NoReturn

if TYPE_CHECKING:
    from paybill.write.lease import SpareLease
    from paybill.write.shortcut import FolderHint, SpecScan

DEFAULT_SPECS = Path("specs")
"""The specs folder when none is named (``paybill.cli.common.specs_argument``)."""
DEFAULT_OUT = Path("generated")
"""The output folder when ``--out`` is not given (``paybill compile --out``)."""

Record = tuple[tuple[object, ...], int, "SpecScan | None"]
"""What the short cut's record of the compile to come needs: its parameters, its start, the spec scan."""


class Unstaged(NamedTuple):
    """What ``paybill compile`` found before running any stage (:func:`without_stages`)."""

    printed: str | None
    """The text to print when nothing else is to be done (the short cut, or a delta compile that wrote)."""
    record: Record | None
    """For the short cut's record of the full compile that must run (None: it saves none)."""
    hint: FolderHint | None
    """The output folder's folders as the last record saw them (for the writer)."""


def without_stages(specs: Path, out: Path, fmt: str, strict_quotas: bool, cache: Path,
                   lease: SpareLease | None) -> Unstaged:
    """The short cut, then the delta compile: the text to print if one of them did the whole compile.

    Not for ``--check``, ``--durable`` or without a cache folder (the caller's rule). Otherwise what
    the full compile needs from this attempt: the record's parameters and scan, and the folder hint.
    """
    from paybill.write import shortcut

    started_ns = time.time_ns()
    scan = shortcut.scan_specs(specs)
    params = shortcut.parameters(specs, out, fmt, {"strict_quotas": strict_quotas})
    printed, hint, changed = shortcut.check(cache, out, params, scan, started_ns)
    if printed is None and changed is not None and scan is not None:
        from paybill.cli.compile_delta import try_delta  # an identity edit of a few tenants

        printed = try_delta(cache, out, changed, params, started_ns, scan, hint, lease)
    return Unstaged(printed, None if printed is not None else (params, started_ns, scan), hint)


class Invocation(NamedTuple):
    """A ``paybill compile`` command line in its plainest form (:func:`parse`)."""

    specs: Path
    out: Path
    fmt: str


def parse(argv: Sequence[str]) -> Invocation | None:
    """``compile [SPECS] [--out OUT] [--format FMT]`` (any order, each once, ``--opt=value`` too), else None."""
    from paybill.diagnostics.render import FORMATS

    if not argv or argv[0] != "compile":
        return None
    values: dict[str, str] = {}
    specs: str | None = None
    rest = iter(argv[1:])
    for arg in rest:
        if arg.startswith("-"):
            name, equals, value = arg.partition("=")
            if name not in ("--out", "--format") or name in values:
                return None  # another option, help, "--", or an option given twice: click's to handle
            if not equals:
                value = next(rest, "")
            if not value or value.startswith("-"):
                return None
            values[name] = value
        elif specs is None and arg:
            specs = arg
        else:
            return None  # a second argument (click: an error) or an empty one
    fmt = values.get("--format", "text")
    if fmt not in FORMATS:
        return None
    return Invocation(DEFAULT_SPECS if specs is None else Path(specs), Path(values.get("--out", DEFAULT_OUT)), fmt)


def out_holds_specs(specs: Path, out: Path) -> bool:
    """The output folder is replaced wholesale: it must not be or contain the specs."""
    try:
        specs_real, out_real = specs.resolve(), out.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13): refused as output later
        return False
    return out_real == specs_real or specs_real.is_relative_to(out_real)


def _accepted(call: Invocation) -> bool:
    """What click and ``paybill compile`` check before compiling, all passed (else click reports it)."""
    return (os.path.isdir(call.specs) and os.access(call.specs, os.R_OK) and os.path.isdir(call.out)
            and os.access(call.out, os.R_OK) and not out_holds_specs(call.specs, call.out))


_handed: tuple[Invocation, Path, SpareLease | None, Unstaged] | None = None


def handed_over(specs: Path, out: Path, fmt: str, cache: Path | None) -> tuple[SpareLease | None, Unstaged] | None:
    """The lease and the attempt :func:`compile_without_click` made for exactly this compile (once), or None."""
    global _handed
    handed, _handed = _handed, None
    if handed is None or handed[0] != Invocation(specs, out, fmt) or handed[1] != cache:
        if handed is not None and handed[2] is not None:
            handed[2].close()
        return None
    return handed[2], handed[3]


def compile_without_click(argv: Sequence[str]) -> None:
    """Run ``paybill compile`` for ``argv`` (the arguments after ``paybill``) when the short cut or the delta
    compile does the whole of it: then print its text and end the process. Otherwise return, having
    done nothing or handed its work to the click command (:func:`handed_over`)."""
    global _handed
    call = parse(argv)
    if call is None:
        return
    from paybill.gcpause import exit_process, pause_for_this_process
    from paybill.store import cache_dir

    pause_for_this_process()  # as the compile command does first
    cache = cache_dir()
    if cache is None or not _accepted(call):
        return
    from paybill.write.lease import SpareLease

    lease = SpareLease.take(cache, call.out)
    try:
        attempt = without_stages(call.specs, call.out, call.fmt, False, cache, lease)
    except KeyboardInterrupt:  # what click's standalone mode does with it
        if lease is not None:
            lease.close()
        if sys.stderr is not None:  # None: started with standard error closed (``2>&-``)
            sys.stderr.write("\nAborted!\n")
        exit_process(1)
    except BaseException:
        if lease is not None:
            lease.close()
        raise
    if attempt.printed is None:
        _handed = (call, cache, lease, attempt)
        return
    if lease is not None:
        lease.close()
    try:
        echo(attempt.printed)
    except BrokenPipeError:
        _reader_gone()
    exit_process(0)


def echo(text: str) -> None:
    """``click.echo(text, nl=False)`` on standard output, without importing click when it would write
    ``text`` as it is (ASCII, no escape sequence for it to strip when the output is not a terminal).
    Flushed, as click's: a reader that has gone (``BrokenPipeError``) is found here, not at the exit."""
    if sys.stdout is None or not text.isascii() or "\x1b" in text:
        import click

        click.echo(text, nl=False)
        return
    sys.stdout.write(text)
    sys.stdout.flush()


def _reader_gone() -> NoReturn:
    """Standard output's reader has gone (``paybill compile | head -0``, a closed pipe): exit 1 quietly, as
    click's standalone mode does for the command (it was an internal error, exit 70, with
    ``PYTHONUNBUFFERED``; else exit 120 and "Exception ignored" from the interpreter's last flush). What
    is still buffered goes to the null device, so no later flush fails again (the ``signal`` module's
    documented way for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    from paybill.gcpause import exit_process

    exit_process(1)
