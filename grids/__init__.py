"""The domain: facilities, doctors, patients, grids, memberships, reports.

This package imports neither `notifications` nor `scheduling`. Each capability
offers its own `init_app` (blueprints, CLI commands); `wsgi.create_app` calls them.
"""
