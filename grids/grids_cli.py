"""`flask --app wsgi grids ...` and `demo`: forming grids and exporting memberships."""

from __future__ import annotations

from flask.cli import AppGroup

grids_cli = AppGroup("grids", help="Form grids and export their memberships.")
