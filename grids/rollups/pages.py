"""The doctor's Monday page, grid, township and county pages, charts and exports."""

from __future__ import annotations

from flask import Blueprint

rollup_pages = Blueprint("rollups", __name__)
