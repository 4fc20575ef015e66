"""Pause the cyclic garbage collector while loading, validating and compiling.

A compile of a large repository holds hundreds of thousands of long-lived objects (composed YAML
nodes, documents, models) and then allocates millions of short-lived dicts and lists while
building stacks. Every allocation burst triggers a collection that walks the whole long-lived heap
again: on 10,000 tenants that was a third of emit time. Nearly all compile garbage is acyclic and is
freed by reference counting anyway, so the collector is paused for the duration (and restored as it
was, so library callers keep their own settings).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


one_shot_process = False
"""Set by the ``paybill`` entry point: this process runs one command and exits. Not set when the
CLI is invoked in-process (tests, embedding), so those keep their collector."""


def pause_for_this_process() -> None:
    """In a one-shot ``paybill`` process, leave the collector off until the process exits.

    Re-enabling after a large compile is not free: every container allocated meanwhile (millions on
    10,000 tenants) is still in the youngest generation, so the next allocation triggers a
    collection that walks them all, about half a second for nothing, since the process is about to
    exit and the OS reclaims its memory at once.
    """
    if one_shot_process:
        gc.disable()


def exit_process(code: int) -> NoReturn:
    """End a command with exit status ``code``; in a one-shot ``paybill`` process without tearing down
    its heap.

    An exiting interpreter frees every object one by one: after a ``paybill plan`` from committed trees
    at 10,000 tenants (the parsed-file summary, two compile records, the manifests' index) that was
    ~0.03 s of a process that takes ~1 s (issue 14), for memory the OS reclaims at once anyway. Standard
    output and error are flushed first (those that exist: a stream closed before the process started is
    None, and click writes nothing to it); when that fails (a closed pipe) the interpreter exits as usual
    and reports it as it always did. Only for commands whose output is written and closed by then, and
    that leave no thread, child process or temporary file behind. Not in-process (tests, embedding):
    there it is :func:`sys.exit`."""
    if one_shot_process:
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None: the descriptor was closed when the process started (``>&-``)
                    stream.flush()
        except (OSError, ValueError):
            sys.exit(code)
        os._exit(code)
    sys.exit(code)
