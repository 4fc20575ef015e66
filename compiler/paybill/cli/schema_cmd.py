"""``paybill schema``: write the JSON Schemas editors use for completion."""

from __future__ import annotations

from pathlib import Path

import click

from paybill.models.json_schema import render_schemas
from paybill.write.atomic import write_text_atomic


@click.command("schema")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("schemas"),
              show_default=True, help="Folder to write one schema per kind into.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the folder is stale.")
def schema_command(out: Path, check: bool) -> None:
    """Generate JSON Schemas (one per kind, plus paybill.schema.json for any document)."""
    if (out.exists() or out.is_symlink()) and not out.is_dir():  # a FIFO, a device, a symlink loop
        raise click.BadParameter(f"'{out}' exists and is not a folder", param_hint="--out")
    files = render_schemas()
    stale = [name for name, text in files.items()
             if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]
    if check:
        for name in stale:
            click.echo(f"stale: {(out / name).as_posix()}")
        raise SystemExit(1 if stale else 0)
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        write_text_atomic(out / name, files[name])
    click.echo(f"wrote {len(stale)} of {len(files)} schema files to {out.as_posix()}/")
