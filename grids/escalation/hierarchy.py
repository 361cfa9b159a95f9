"""The county's hierarchy as a graph: facility → facility → village doctor → grid → member.

`Hierarchy` wraps a `networkx.DiGraph` whose edges point from the one in charge
to the one in their care. It checks that both ends of an edge exist, refuses an
edge that would make a cycle (a facility its own ancestor), and turns networkx's
errors into ours, with messages that name the facility, doctor or grid.

Nodes are small integers (`node(kind, id)`), so a province of a million members
fits in memory; facilities, doctors and grids carry their details as node data,
members carry none. Pure: no Flask, no SQLAlchemy (`grids.escalation.roster_graph`
builds one from the database).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum

import networkx as nx  # type: ignore[import-untyped]

from grids.core.collector import collector_paused

INFO = "info"


class NodeKind(IntEnum):
    FACILITY = 0
    DOCTOR = 1
    GRID = 2
    MEMBER = 3


_KINDS = tuple(NodeKind)
_GRID = int(NodeKind.GRID)
_MEMBER = int(NodeKind.MEMBER)


def node(kind: NodeKind, ident: int) -> int:
    """The graph node of a facility, doctor, grid or member (its id and kind in one int)."""
    return ident * 4 + kind


def kind_of(graph_node: int) -> NodeKind:
    return _KINDS[graph_node % 4]


def id_of(graph_node: int) -> int:
    return graph_node // 4


class HierarchyError(Exception):
    """Something asked of the hierarchy does not hold; the message says what."""


class UnknownNode(HierarchyError):
    pass


class CycleRefused(HierarchyError):
    pass


class NoPath(HierarchyError):
    pass


@dataclass(frozen=True)
class FacilityInfo:
    id: int
    code: str
    name: str
    level: str
    phone: str | None = None
    parent_id: int | None = None


@dataclass(frozen=True)
class DoctorInfo:
    id: int
    code: str
    name: str
    phone: str
    facility_id: int
    language: str = "zh_CN"
    active: bool = True


@dataclass(frozen=True)
class GridInfo:
    id: int
    code: str
    facility_id: int
    doctor_id: int | None = None
    coordinator_id: int | None = None
    closed: bool = False
    """Closed by a merge: kept for the escalations that name it, passed by `grids check`."""
    deputy_id: int | None = None


def _label(graph_node: int, info: object | None) -> str:
    kind = kind_of(graph_node).name.lower()
    code = getattr(info, "code", None)
    return f"{kind} {code}" if code else f"{kind} #{id_of(graph_node)}"


class Hierarchy:
    """Facilities, doctors, grids and members, and who is above whom."""

    def __init__(self, version: object = None) -> None:
        self._graph: nx.DiGraph = nx.DiGraph()
        self.version = version
        """What the hierarchy was built from (e.g. a roster fingerprint), for caches."""

    # --- building ---

    def add_facility(self, info: FacilityInfo) -> None:
        self._graph.add_node(node(NodeKind.FACILITY, info.id), **{INFO: info})

    def add_doctor(self, info: DoctorInfo) -> None:
        self._graph.add_node(node(NodeKind.DOCTOR, info.id), **{INFO: info})

    def add_grid(self, info: GridInfo) -> None:
        self._graph.add_node(node(NodeKind.GRID, info.id), **{INFO: info})

    def link(self, parent: int, child: int) -> None:
        """`parent` is in charge of `child`; refuses unknown nodes and cycles."""
        graph = self._graph
        for end in (parent, child):
            if end not in graph:
                raise UnknownNode(f"{_label(end, None)} is not in the hierarchy: add it first")
        if kind_of(parent) > kind_of(child):
            raise HierarchyError(
                f"{self.describe(parent)} cannot be above {self.describe(child)}: "
                "facilities are above doctors, doctors above grids, grids above members"
            )
        if kind_of(parent) == kind_of(child) and (
            parent == child or nx.has_path(graph, child, parent)
        ):
            raise CycleRefused(
                f"{self.describe(child)} cannot be under {self.describe(parent)}: "
                f"{self.describe(parent)} is already under it (a cycle)"
            )
        graph.add_edge(parent, child)

    def link_facilities(self) -> None:
        """Add every facility's parent edge (after all facilities were added)."""
        for info in list(self.facilities()):
            if info.parent_id is not None:
                self.link(node(NodeKind.FACILITY, info.parent_id), node(NodeKind.FACILITY, info.id))

    def add_members(self, memberships: Iterable[tuple[int, int]]) -> int:
        """(grid id, patient id) pairs; the grids must be in the hierarchy. Returns the count.

        Members are leaves and have one grid, so no cycle check is needed: added in bulk."""
        with collector_paused():
            edges = [(grid * 4 + _GRID, member * 4 + _MEMBER) for grid, member in memberships]
            missing = [grid for grid in {grid for grid, _ in edges} if grid not in self._graph]
            if missing:
                raise UnknownNode(f"grid #{missing[0] // 4} is not in the hierarchy: add it first")
            self._add_leaves(edges)
        return len(edges)

    def _add_leaves(self, edges: list[tuple[int, int]]) -> None:
        """Member edges, written straight into the DiGraph's adjacency (what
        `add_edges_from` does, less its per-edge generality: 3x faster for a million).
        A member already in the graph goes through `add_edge`."""
        graph = self._graph
        succ, pred, nodes = graph._succ, graph._pred, graph._node
        for grid, member in edges:
            if member in nodes:
                graph.add_edge(grid, member)
                continue
            data: dict[str, object] = {}
            succ[grid][member] = data
            succ[member] = {}
            pred[member] = {grid: data}
            nodes[member] = {}

    @classmethod
    def build(
        cls,
        facilities: Iterable[FacilityInfo],
        doctors: Iterable[DoctorInfo] = (),
        grids: Iterable[GridInfo] = (),
        memberships: Iterable[tuple[int, int]] = (),
        *,
        version: object = None,
    ) -> Hierarchy:
        """The whole hierarchy: facilities and their parents, each doctor under their
        clinic, each grid under its doctor (under its facility when it has none), each
        member under their grid."""
        with collector_paused():
            return cls._build(facilities, doctors, grids, memberships, version)

    @classmethod
    def _build(
        cls,
        facilities: Iterable[FacilityInfo],
        doctors: Iterable[DoctorInfo],
        grids: Iterable[GridInfo],
        memberships: Iterable[tuple[int, int]],
        version: object,
    ) -> Hierarchy:
        hierarchy = cls(version)
        for facility in facilities:
            hierarchy.add_facility(facility)
        hierarchy.link_facilities()
        for doctor in doctors:
            hierarchy.add_doctor(doctor)
            hierarchy.link(
                node(NodeKind.FACILITY, doctor.facility_id), node(NodeKind.DOCTOR, doctor.id)
            )
        for grid in grids:
            hierarchy.add_grid(grid)
            doctor_node = node(NodeKind.DOCTOR, grid.doctor_id or 0)
            above = (
                doctor_node
                if grid.doctor_id is not None and doctor_node in hierarchy
                else node(NodeKind.FACILITY, grid.facility_id)
            )
            hierarchy.link(above, node(NodeKind.GRID, grid.id))
        hierarchy.add_members(memberships)
        return hierarchy

    # --- reading ---

    def __contains__(self, graph_node: int) -> bool:
        return graph_node in self._graph

    def _info(self, graph_node: int) -> object:
        try:
            return self._graph.nodes[graph_node][INFO]
        except KeyError:
            raise UnknownNode(f"{_label(graph_node, None)} is not in the hierarchy") from None

    def describe(self, graph_node: int) -> str:
        info = self._graph.nodes[graph_node].get(INFO) if graph_node in self._graph else None
        return _label(graph_node, info)

    def facility(self, facility_id: int) -> FacilityInfo:
        info = self._info(node(NodeKind.FACILITY, facility_id))
        assert isinstance(info, FacilityInfo)
        return info

    def doctor(self, doctor_id: int) -> DoctorInfo:
        info = self._info(node(NodeKind.DOCTOR, doctor_id))
        assert isinstance(info, DoctorInfo)
        return info

    def grid(self, grid_id: int) -> GridInfo:
        info = self._info(node(NodeKind.GRID, grid_id))
        assert isinstance(info, GridInfo)
        return info

    def _of_kind(self, kind: NodeKind) -> Iterator[object]:
        for graph_node, data in self._graph.nodes(data=INFO):
            if data is not None and kind_of(graph_node) == kind:
                yield data

    def facilities(self) -> Iterator[FacilityInfo]:
        return self._of_kind(NodeKind.FACILITY)  # type: ignore[return-value]

    def doctors(self) -> Iterator[DoctorInfo]:
        return self._of_kind(NodeKind.DOCTOR)  # type: ignore[return-value]

    def grids(self) -> Iterator[GridInfo]:
        return self._of_kind(NodeKind.GRID)  # type: ignore[return-value]

    def parent_facility(self, facility_id: int) -> FacilityInfo | None:
        for parent in self._graph.predecessors(node(NodeKind.FACILITY, facility_id)):
            if kind_of(parent) == NodeKind.FACILITY:
                return self.facility(id_of(parent))
        return None

    def facilities_above(self, facility_id: int) -> list[FacilityInfo]:
        """The facilities above `facility_id`, nearest first."""
        chain: list[FacilityInfo] = []
        current = self.parent_facility(facility_id)
        while current is not None:
            chain.append(current)
            current = self.parent_facility(current.id)
        return chain

    def path_from(self, top_facility_id: int, facility_id: int) -> list[FacilityInfo]:
        """The facilities from `top_facility_id` down to `facility_id`; `NoPath` if none."""
        start = node(NodeKind.FACILITY, top_facility_id)
        end = node(NodeKind.FACILITY, facility_id)
        try:
            path = nx.shortest_path(self._graph, start, end)
        except nx.NodeNotFound as error:
            raise UnknownNode(str(error)) from None
        except nx.NetworkXNoPath:
            raise NoPath(
                f"no path from {self.describe(start)} down to {self.describe(end)}"
            ) from None
        return [self.facility(id_of(step)) for step in path]

    def doctors_at(self, facility_id: int) -> list[DoctorInfo]:
        return sorted(
            (
                self.doctor(id_of(child))
                for child in self._graph.successors(node(NodeKind.FACILITY, facility_id))
                if kind_of(child) == NodeKind.DOCTOR
            ),
            key=lambda doctor: doctor.id,
        )

    def grids_of(self, doctor_id: int) -> list[GridInfo]:
        return [
            self.grid(id_of(child))
            for child in self._graph.successors(node(NodeKind.DOCTOR, doctor_id))
            if kind_of(child) == NodeKind.GRID
        ]

    def member_count(self, grid_id: int) -> int:
        return int(self._graph.out_degree(node(NodeKind.GRID, grid_id)))

    def __len__(self) -> int:
        return int(self._graph.number_of_nodes())
