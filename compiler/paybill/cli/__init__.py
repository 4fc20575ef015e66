"""The ``paybill`` command line."""
