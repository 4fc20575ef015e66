"""Allow ``python -m paybill``."""

from paybill.cli.main import main

main()
