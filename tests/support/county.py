"""A county for the SMS conversation tests: an 18-member Chinese grid and a 16-member
English one, each with its coordinator and doctor, and the moment they talk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from grids.models import Facility
from grids.storage.database import Database
from tests.support import factories

# Thursday 26 November 2026, 10:00 in Shanghai: ISO week 48.
THURSDAY = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@dataclass
class County:
    tree: dict[str, Facility]
    zh: factories.GridFixture
    en: factories.GridFixture


def build_county(db: Database) -> County:
    """An 18-member Chinese grid and a 16-member English one, committed."""
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        zh = factories.grid_with_members(session, tree["clinic_a"], size=18, code="JXV01-HTN01")
        en = factories.grid_with_members(
            session, tree["clinic_b"], size=16, language="en", code="JXV02-DM01"
        )
        assert en.doctor is not None
        en.doctor.name = "Li Wei"
        for seat, member in en.members.items():
            member.name = f"Wang Fang {seat}"
        session.commit()
    return County(tree=tree, zh=zh, en=en)
