"""Oriented point clouds for signed distance fitting: reading, normals, the normalising transform.

Points are scaled into [-1, 1]³ with a margin, `normalised = (original − center) / scale`, and
`center` and `scale` are kept so that every output (meshes, slices, metrics) goes back to the
input's own coordinates.

Normals, where the input has none, are estimated as in Hoppe et al. (1992): the direction of least
variance of each point's `k` nearest neighbours (principal component analysis), then oriented
consistently by propagating the sign along a minimum spanning tree of the neighbour graph whose
edges cost `1 − |n_i · n_j|` (turning through smooth regions first), and finally flipped per
connected piece so that most normals point away from the piece's centre. Limits: sheets closer to
each other than the neighbourhood (thin walls), very noisy scans and sharp edges can flip normals
locally; the outward vote assumes closed, roughly star-shaped pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MESH_SUFFIXES = (".ply", ".obj", ".off", ".stl")
SUFFIXES = (".xyz",) + MESH_SUFFIXES

BUNDLED_SHAPES = ("spot",)
"""Meshes that ship with sirenkit (`sirenkit/data/NAME.ply`), read by name wherever a mesh path is:
`spot`, Keenan Crane's cow (2,930 vertices, 5,856 faces, watertight; CC0)."""


def shape_path(source: str | Path) -> Path:
    """The file `source` names: itself where it exists (a file called `spot` in the current
    folder wins), else the bundled mesh of that name; a `ValueError` for a name that is neither."""
    path = Path(source)
    if path.exists():
        return path
    if str(source) in BUNDLED_SHAPES:
        return Path(__file__).resolve().parents[2] / "data" / f"{source}.ply"
    if not path.suffix:
        raise ValueError(f"{source}: no such file, and not a bundled mesh name ({', '.join(BUNDLED_SHAPES)})")
    return path  # the file checks name what is wrong with it


@dataclass
class PointCloud:
    """Surface samples ready to fit: `points` and unit `normals`, `(N, 3)` float32, in the
    normalised frame (inside [-1, 1]³)."""

    points: np.ndarray
    normals: np.ndarray
    name: str
    center: np.ndarray
    """`(3,)`: original = normalised · scale + center."""
    scale: float
    normals_estimated: bool = False
    faces: np.ndarray | None = None
    """For a mesh input, its faces; `vertices` holds its vertices in original coordinates."""
    vertices: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Normalised `(..., 3)` → the input's coordinates."""
        return points * self.scale + self.center

    def to_normalised(self, points: np.ndarray) -> np.ndarray:
        """The input's coordinates `(..., 3)` → normalised."""
        return (points - self.center) / self.scale

    @property
    def transform(self) -> dict:
        """What `model.json` records to map the network's frame back to the input's."""
        return {"center": [float(c) for c in self.center], "scale": float(self.scale)}


def normalising_transform(points: np.ndarray, margin: float = 0.1) -> tuple[np.ndarray, float]:
    """`(center, scale)` that put the bounding box's centre at 0 and its longest half-side at
    `1 − margin`."""
    low, high = points.min(axis=0), points.max(axis=0)
    center = (low + high) / 2
    half = float((high - low).max()) / 2
    if not half > 0:
        raise ValueError("all points coincide; a surface needs extent")
    return center, half / (1.0 - margin)


def read_xyz(path: Path) -> np.ndarray:
    """`x y z [nx ny nz]` per line → `(N, 3)` or `(N, 6)` float64."""
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2, comments="#")
    except ValueError as error:
        raise ValueError(f"{path}: not a point file with 3 or 6 numbers per line ({error})") from None
    if values.size == 0:
        raise ValueError(f"{path}: the file holds no points")
    if values.shape[1] not in (3, 6):
        raise ValueError(f"{path}: expected 3 (x y z) or 6 (x y z nx ny nz) numbers per line, got {values.shape[1]}")
    return values


def load_mesh(path: str | Path):
    """Read a triangle mesh, checked.

    Args:
        path: A `.ply`, `.obj`, `.off` or `.stl` file, or a bundled mesh by name (`spot`).

    Returns:
        mesh (trimesh.Trimesh): The mesh.

    Raises:
        ValueError: A missing, empty or unreadable file, or one without faces; the message names
            the file.
    """
    import trimesh

    path = shape_path(path)
    _check_file(path, MESH_SUFFIXES)
    check_off_counts(path)
    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except Exception as error:  # trimesh raises many kinds on malformed files
        raise ValueError(f"{path}: not a readable {path.suffix[1:].upper()} mesh ({error})") from None
    check_ply_counts(path, loaded)
    return _checked_mesh(path, loaded)


def check_off_counts(path: Path) -> None:
    """A `ValueError` naming `path` where an OFF file is cut short: fewer vertex and face lines
    than its header declares, or a last face line without every vertex index it announces.
    trimesh reads the lines there are, so a cut OFF file would load as a smaller mesh. (A cut
    inside the last index of the last face leaves a shorter number, which nothing can tell.)

    The header: comment lines (`#`), the keyword (`OFF`, `COFF`, ...), then `V F E`, on the
    keyword's line or the next one; then a line per vertex and a line per face (`n i1 ... in`)."""
    if path.suffix.lower() != ".off":
        return
    lines = [line.split("#", 1)[0].strip() for line in path.read_bytes().decode("latin-1").splitlines()]
    lines = [line for line in lines if line]
    keyword = lines[0].split() if lines else []
    if not keyword or not keyword[0].upper().endswith("OFF"):
        return  # not an OFF header: trimesh names what is wrong
    if len(keyword) > 1:  # the counts on the keyword's line
        counts, body = keyword[1:], lines[1:]
    else:
        counts, body = (lines[1].split() if len(lines) > 1 else []), lines[2:]
    try:
        vertices, faces = int(counts[0]), int(counts[1])
    except (IndexError, ValueError):
        return  # a malformed count line: trimesh refuses it
    if len(body) < vertices + faces:
        held = max(0, len(body) - vertices)
        raise ValueError(f"{path}: the OFF file is cut short: its header declares {vertices:,} vertices and "
                         f"{faces:,} faces, the file holds {min(len(body), vertices):,} vertex and {held:,} face lines")
    last = body[vertices + faces - 1].split() if faces > 0 else []
    if last and last[0].isdigit() and len(last) < 1 + int(last[0]):
        raise ValueError(f"{path}: the OFF file is cut short: its last face lists {len(last) - 1} of its "
                         f"{int(last[0])} vertex indices")


def check_ply_counts(path: Path, loaded: Any) -> None:
    """A `ValueError` naming `path` where a PLY file holds fewer elements (vertices, faces) than its
    header declares. trimesh reads the rows an ASCII PLY still holds, and drops an element of a
    binary PLY whose data is missing altogether (cut right after its vertices, a mesh loads as a
    point cloud); a binary file of any other length it refuses itself. (As in OFF, a cut inside
    the last number of an ASCII file leaves a shorter number, which nothing can tell.)"""
    if path.suffix.lower() != ".ply":
        return
    with path.open("rb") as file:
        head = file.read(1 << 20)
    end = head.find(b"end_header")
    elements: list[tuple[str, int, list[bool]]] = []  # name, count, which properties are lists
    for line in head[:max(end, 0)].decode("latin-1").splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "element" and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif len(words) >= 3 and words[0] == "property" and elements:
            elements[-1][2].append(words[1] == "list")
    elements = [element for element in elements if element[1] > 0]
    if end < 0 or not elements:
        return  # trimesh names what is wrong with the header
    declared = f"{', '.join(f'{count:,} {name}' for name, count, _ in elements)} elements"
    if b"format ascii" in head[:end]:
        body = path.read_bytes()[end:].split(b"\n", 1)[-1]  # after the end_header line
        rows = [line for line in body.decode("latin-1").splitlines() if line.strip()]
        total = sum(count for _, count, _ in elements)
        if len(rows) < total:
            raise ValueError(f"{path}: the PLY file is cut short: its header declares {declared}, a line each; "
                             f"the file holds {len(rows):,} lines")
        last, properties = rows[total - 1].split(), elements[-1][2]
        if len(last) < _values_in_row(last, properties):
            raise ValueError(f"{path}: the PLY file is cut short: its last {elements[-1][0]} element lists "
                             f"{len(last)} of its {_values_in_row(last, properties)} values")
        return
    raw = getattr(loaded, "metadata", {}).get("_ply_raw")
    if raw is None:
        return  # not read element by element (a point cloud asked for as a mesh has lost it)
    for name, _, _ in elements:
        if raw.get(name, {}).get("data") is None:
            raise ValueError(f"{path}: the PLY file is cut short: its header declares {declared}, "
                             f"and it holds no {name} elements")


def _values_in_row(row: list[str], properties: list[bool]) -> int:
    """How many values an ASCII PLY row of `properties` (True: a list) holds, from its list counts."""
    needed = 0
    for is_list in properties:
        if is_list and needed < len(row):
            try:
                needed += int(float(row[needed]))
            except (ValueError, OverflowError):
                return needed  # not a count: trimesh refuses the row
        needed += 1
    return needed


def _checked_mesh(path: Path, loaded):
    """`loaded` if it is a mesh with faces and finite vertices; else the error naming `path`."""
    if loaded is None or len(getattr(loaded, "faces", [])) == 0:
        raise ValueError(f"{path}: the mesh has no faces")
    if not np.isfinite(loaded.vertices).all():
        raise ValueError(f"{path}: the mesh has NaN or infinite vertex coordinates")
    faces, count = np.asarray(loaded.faces), len(loaded.vertices)
    if faces.min() < 0 or faces.max() >= count:
        wrong = int(faces.max() if faces.max() >= count else faces.min())
        raise ValueError(f"{path}: a face refers to vertex {wrong}, but the mesh has {count} vertices")
    return loaded


def load_point_cloud(
    path: str | Path,
    *,
    samples: int = 250_000,
    margin: float = 0.1,
    neighbours: int = 16,
    seed: int = 0,
) -> PointCloud:
    """Read an oriented point cloud for a signed distance fit, normalised into [-1, 1]³.

    Missing normals are estimated (see the module `sirenkit.signals.shape.data`: principal
    directions of each point's neighbours, oriented along a spanning tree).

    Args:
        path: `.xyz` (with or without normals), a point-cloud `.ply`, a mesh (`.ply`, `.obj`,
            `.off`, `.stl`), or a bundled mesh by name (`spot`).
        samples: Points drawn uniformly on a mesh's surface, with their face normals.
        margin: Free border around the shape: its longest half-side becomes `1 − margin`.
        neighbours: Neighbours per point for estimating normals.
        seed: Seed of the points drawn on a mesh.

    Returns:
        The points and unit normals `(N, 3)` in the normalised frame, with the transform back to
        the input's coordinates.

    Raises:
        ValueError: A missing, empty or unreadable file, an unsupported type, fewer than 10 points,
            NaN or infinite values, or normals of zero length; the message names the file.
    """
    found = shape_path(path)
    name = str(found) if found == Path(path) else str(path)  # a bundled mesh goes by its name
    path = found
    _check_file(path, SUFFIXES)
    faces = vertices = None
    if path.suffix.lower() == ".xyz":
        values = read_xyz(path)
    else:
        values, faces, vertices = _read_mesh_or_cloud(path, samples, seed)
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).any(axis=1).sum())
        raise ValueError(f"{path}: {bad} row(s) hold NaN or infinite values")
    if len(values) < 10:
        raise ValueError(f"{path}: only {len(values)} points; a surface needs at least 10")
    points = values[:, :3]
    center, scale = normalising_transform(points, margin)
    normalised = ((points - center) / scale).astype(np.float32)
    estimated = values.shape[1] == 3
    if estimated:
        normals = estimate_normals(normalised, neighbours=neighbours)
    else:
        normals = values[:, 3:6]
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        if (lengths < 1e-12).any():
            raise ValueError(f"{path}: {int((lengths < 1e-12).sum())} normal(s) have zero length")
        normals = normals / lengths
    return PointCloud(normalised, normals.astype(np.float32), name, center, scale,
                      normals_estimated=estimated, faces=faces, vertices=vertices)


def _check_file(path: Path, suffixes: tuple[str, ...]) -> None:
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path}: unsupported file type; expected one of {', '.join(suffixes)}")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")


def _read_mesh_or_cloud(path: Path, samples: int, seed: int):
    """`(values (N, 3|6), faces, vertices)` of a mesh (surface samples) or a PLY point cloud."""
    import trimesh

    loaded: Any
    check_off_counts(path)
    try:
        loaded = trimesh.load(path, process=False)
    except Exception as error:
        raise ValueError(f"{path}: not a readable {path.suffix[1:].upper()} file ({error})") from None
    check_ply_counts(path, loaded)
    if isinstance(loaded, trimesh.Scene):
        loaded = loaded.to_mesh() if loaded.geometry else None
    if isinstance(loaded, trimesh.PointCloud) and path.suffix.lower() == ".ply":
        vertices = np.asarray(loaded.vertices, dtype=np.float64)
        normals = _ply_vertex_normals(loaded)
        values = vertices if normals is None else np.concatenate([vertices, normals], axis=1)
        return values, None, None
    mesh = _checked_mesh(path, loaded)
    points, face_index = trimesh.sample.sample_surface(mesh, samples, seed=seed)
    normals = mesh.face_normals[face_index]
    good = np.linalg.norm(normals, axis=1) > 0.5  # degenerate faces have no normal
    values = np.concatenate([points, normals], axis=1)[good]
    return values, np.asarray(mesh.faces), np.asarray(mesh.vertices, dtype=np.float64)


def _ply_vertex_normals(cloud) -> np.ndarray | None:
    """Per-vertex `nx ny nz` of a PLY point cloud, where the file has them."""
    raw = cloud.metadata.get("_ply_raw", {}).get("vertex", {}).get("data")
    if raw is None:
        return None
    names = set(raw.keys()) if isinstance(raw, dict) else set(raw.dtype.names or ())  # ASCII / binary files
    if not {"nx", "ny", "nz"} <= names:
        return None
    return np.stack([np.asarray(raw[key]).reshape(-1) for key in ("nx", "ny", "nz")], axis=1).astype(np.float64)


def estimate_normals(points: np.ndarray, *, neighbours: int = 16) -> np.ndarray:
    """Unit normals `(N, 3)` for `points (N, 3)`, consistently oriented (module docstring)."""
    from scipy.spatial import cKDTree

    count = len(points)
    k = min(neighbours, count - 1)
    tree = cKDTree(points)
    distances, index = tree.query(points, k=k + 1, workers=-1)  # (N, k+1), itself first
    local = points[index] - points[index].mean(axis=1, keepdims=True)  # (N, k+1, 3)
    covariance = np.einsum("nki,nkj->nij", local, local)
    _, vectors = np.linalg.eigh(covariance)  # ascending eigenvalues
    normals = vectors[:, :, 0]  # (N, 3): the direction of least variance
    return orient_normals(points, normals, index[:, 1:])


def orient_normals(points: np.ndarray, normals: np.ndarray, neighbour_index: np.ndarray) -> np.ndarray:
    """Flip `normals` so that neighbours agree (minimum spanning tree propagation) and each
    connected piece points outward on the whole."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

    count, k = neighbour_index.shape
    rows = np.repeat(np.arange(count), k)
    cols = neighbour_index.ravel()
    cost = 1.0 - np.abs(np.einsum("ij,ij->i", normals[rows], normals[cols])) + 1e-6  # > 0: kept by sparse
    graph = coo_matrix((cost, (rows, cols)), shape=(count, count)).tocsr()
    graph = graph.maximum(graph.T)
    tree = minimum_spanning_tree(graph)
    tree = tree + tree.T
    pieces, labels = connected_components(tree, directed=False)
    parent = np.arange(count)
    for piece in range(pieces):
        root = int(np.flatnonzero(labels == piece)[0])
        _, predecessors = breadth_first_order(tree, root, directed=False)
        members = predecessors >= 0
        parent[members] = predecessors[members]
    # relative sign of each normal to its parent's, then products along the paths to the roots
    # by pointer jumping: log2(depth) vectorised passes instead of a walk over the points
    sign = np.where(np.einsum("ij,ij->i", normals, normals[parent]) < 0, -1.0, 1.0)  # roots: +1
    jump = parent.copy()  # sign[i] = product of the relative signs from i up to jump[i], exclusive
    while not np.array_equal(jump[jump], jump):
        sign = sign * sign[jump]
        jump = jump[jump]
    oriented = normals * sign[:, None]
    for piece in range(pieces):
        members = labels == piece
        outward = points[members] - points[members].mean(axis=0)
        if np.einsum("ij,ij->", oriented[members], outward) < 0:
            oriented[members] *= -1
    return oriented
