"""Stage 1, load: find spec files, decode them safely, and compose YAML into positioned documents."""

from paybill.load.discover import discover_spec_files
from paybill.load.document import SpecDocument
from paybill.load.limits import LoadLimits
from paybill.load.reader import load_repository, load_source, report_no_spec_files

__all__ = ["LoadLimits", "SpecDocument", "discover_spec_files", "load_repository", "load_source",
           "report_no_spec_files"]
