"""Silence noticed: grids without a weekly report, members without news."""
