"""Foundation tests (issue 2): diagnostics, schemas, hostile input, properties, CLI, snapshots."""
