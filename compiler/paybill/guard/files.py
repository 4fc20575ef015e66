"""The guard's file discipline: regular files only, read with a cap (:mod:`paybill.contract.files`).

The code lives in :mod:`paybill.contract` so that ``paybill db`` and ``paybill apply`` read compiled
files the same way without loading the guard (cedarpy, cryptography) to do it.
"""

from __future__ import annotations

from paybill.contract.files import CHUNK, FileRefused, bounded_lines, open_regular, open_regular_binary, read_regular

__all__ = ["CHUNK", "FileRefused", "bounded_lines", "open_regular", "open_regular_binary", "read_regular"]
