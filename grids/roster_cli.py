"""`flask --app wsgi roster ...`: importing a county's roster from CSV files."""

from __future__ import annotations

from flask.cli import AppGroup

roster_cli = AppGroup("roster", help="Import the county's roster from CSV files.")
