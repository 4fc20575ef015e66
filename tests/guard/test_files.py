"""Every file the guard opens is a regular file read with a cap: a FIFO or a device never blocks it.

Each FIFO case runs under a watchdog thread (``finishes``): before the fix ``Guard.load`` blocked
forever in ``open()`` on a FIFO. The watchdog only catches a hang; it measures no performance. If
it fires, it opens the FIFO's other end so the blocked thread can end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from guard_support import copy_bundle

from paybill.cli.main import cli
from paybill.guard import BundleError, DecisionLog, Guard, LogError, verify_log
from paybill.guard.bundle import MAX_FILE_BYTES
from paybill.guard.files import FileRefused, bounded_lines, open_regular, read_regular
from paybill.guard.signing import MAX_KEY_BYTES, SigningKeyError, load_public_key

WATCHDOG_SECONDS = 60


def finishes(call: Callable[[], Any], fifo: Path | None = None) -> Any:
    """``call()``'s result or exception, failing the test if it does not return (a hang)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # re-raised in the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(WATCHDOG_SECONDS)
    if thread.is_alive():
        if fifo is not None:  # unblock the open() so the thread ends
            fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
            os.close(fd)
        pytest.fail(f"blocked for more than {WATCHDOG_SECONDS} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def fifo_in_place_of(path: Path) -> Path:
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("name", ["manifest.json", "policies.cedar", "tests.json"])
def test_a_fifo_bundle_file_is_refused_without_blocking(bundles, tmp_path, name):
    bundle = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    fifo = fifo_in_place_of(bundle / name)
    with pytest.raises(BundleError) as refused:
        finishes(lambda: Guard.load(bundle), fifo)
    assert refused.value.reason == "content"
    assert f"{name} refused" in str(refused.value) and "is a FIFO, not a regular file" in str(refused.value)


def test_a_device_bundle_file_is_refused_not_read_without_end(bundles, tmp_path):
    bundle = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    (bundle / "policies.cedar").unlink()
    (bundle / "policies.cedar").symlink_to("/dev/zero")
    with pytest.raises(BundleError, match="is a device, not a regular file") as refused:
        finishes(lambda: Guard.load(bundle))
    assert refused.value.reason == "content"


def test_a_directory_in_place_of_a_bundle_file_is_refused(bundles, tmp_path):
    bundle = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    (bundle / "tests.json").unlink()
    (bundle / "tests.json").mkdir()
    with pytest.raises(BundleError) as refused:
        Guard.load(bundle)
    assert refused.value.reason in {"content", "missing"}


def test_a_symlinked_regular_bundle_file_still_loads(bundles, tmp_path):
    """ConfigMap and Secret volumes are links into ``..data``: what a link resolves to is what counts."""
    bundle = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    real = tmp_path / "real-policies.cedar"
    (bundle / "policies.cedar").rename(real)
    (bundle / "policies.cedar").symlink_to(real)
    assert Guard.load(bundle).agent == "ops-agent"


def test_an_oversized_bundle_file_is_refused_at_the_cap(bundles, tmp_path):
    bundle = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    with (bundle / "tests.json").open("r+b") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(BundleError, match=f"larger than {MAX_FILE_BYTES} bytes") as refused:
        Guard.load(bundle)
    assert refused.value.reason == "content"


def test_read_regular_takes_exactly_the_cap(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"x" * 10)
    assert read_regular(path, 10) == b"x" * 10
    with pytest.raises(FileRefused, match="larger than 9 bytes"):
        read_regular(path, 9)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing", 10)


def test_a_file_growing_past_the_cap_after_fstat_is_still_refused(tmp_path, monkeypatch):
    path = tmp_path / "data"
    path.write_bytes(b"x" * 20)
    real_fstat = os.fstat

    class Small:
        def __init__(self, result: os.stat_result) -> None:
            self.st_mode, self.st_size = result.st_mode, 5

    monkeypatch.setattr(os, "fstat", lambda fd: Small(real_fstat(fd)))
    with pytest.raises(FileRefused, match="larger than 10 bytes"):
        read_regular(path, 10)


def test_open_regular_closes_what_it_refuses(tmp_path):
    fifo = fifo_in_place_of(tmp_path / "fifo")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(FileRefused):
            finishes(lambda: open_regular(fifo), fifo)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_fifo_public_key_is_refused(signed_bundles, tmp_path):
    fifo = fifo_in_place_of(tmp_path / "key.pub.pem")
    with pytest.raises(SigningKeyError, match="is a FIFO"):
        finishes(lambda: load_public_key(fifo), fifo)
    with pytest.raises(BundleError) as refused:
        finishes(lambda: Guard.load(signed_bundles / "ops-agent", public_key=fifo), fifo)
    assert refused.value.reason == "key"


def test_an_oversized_public_key_file_is_refused(tmp_path):
    key = tmp_path / "key.pub.pem"
    key.write_bytes(b"-" * (MAX_KEY_BYTES + 1))
    with pytest.raises(SigningKeyError, match=f"larger than {MAX_KEY_BYTES} bytes"):
        load_public_key(key)


def test_a_fifo_decision_log_is_refused(load, tmp_path):
    fifo = fifo_in_place_of(tmp_path / "decisions.jsonl")
    with pytest.raises(LogError, match="is a FIFO"):
        finishes(lambda: DecisionLog(fifo), fifo)
    with pytest.raises(LogError):
        finishes(lambda: load("ops-agent", log=fifo), fifo)
    report = finishes(lambda: verify_log(fifo), fifo)
    assert not report.ok and "is a FIFO" in report.problems[0][1]


def test_a_decision_log_that_cannot_be_opened_is_a_log_error(tmp_path):
    with pytest.raises(LogError, match="cannot open the decision log"):
        DecisionLog(tmp_path / "missing-folder" / "decisions.jsonl")


def test_a_fifo_trace_exits_2_without_blocking(bundles, tmp_path):
    fifo = fifo_in_place_of(tmp_path / "trace.jsonl")
    result = finishes(lambda: CliRunner().invoke(
        cli, ["guard", "replay", "--bundle", str(bundles / "ops-agent"), str(fifo)], catch_exceptions=False), fifo)
    assert result.exit_code == 2 and "is a FIFO" in result.output


def test_bounded_lines_reports_an_overlong_line_and_goes_on(tmp_path):
    path = tmp_path / "lines"
    path.write_bytes(b"a\n" + b"b" * 10 + b"\n" + b"c" * 5 + b"\n" + b"d" * 6)
    with path.open("rb") as handle:
        assert list(bounded_lines(handle, 5)) == [b"a\n", None, b"ccccc\n", None]
    path.write_bytes(b"e" * 6 + b"\n" + b"f" * 7)
    with path.open("rb") as handle:
        assert list(bounded_lines(handle, 6)) == [b"eeeeee\n", None]


def test_bounded_lines_at_exactly_the_limit_without_a_newline(tmp_path):
    path = tmp_path / "lines"
    path.write_bytes(b"g" * 5)
    with path.open("rb") as handle:
        assert list(bounded_lines(handle, 5)) == [b"ggggg"]


def test_a_bundle_file_at_32_mib_is_read_and_one_byte_more_is_not(tmp_path):
    path = tmp_path / "big"
    with path.open("wb") as handle:
        handle.truncate(32 * 1024 * 1024)
    assert MAX_FILE_BYTES == 32 * 1024 * 1024
    assert len(read_regular(path, MAX_FILE_BYTES)) == 32 * 1024 * 1024
    with path.open("r+b") as handle:
        handle.truncate(32 * 1024 * 1024 + 1)
    with pytest.raises(FileRefused):
        read_regular(path, MAX_FILE_BYTES)


def test_a_key_file_of_64_kib_is_read_and_one_byte_more_is_not(tmp_path):
    key = tmp_path / "key.pub.pem"
    key.write_bytes(b"-" * 65536)
    with pytest.raises(SigningKeyError, match="not a PEM public key"):
        load_public_key(key)
    key.write_bytes(b"-" * 65537)
    with pytest.raises(SigningKeyError, match="larger than 65536 bytes"):
        load_public_key(key)


def test_a_directory_is_named_as_such(tmp_path):
    with pytest.raises(FileRefused, match="is a directory, not a regular file"):
        open_regular(tmp_path)
