"""INRIA 3DGS .ply (the layout of gaussian-splatting's `save_ply`, read by every splat viewer).

Per vertex, float32: x y z, nx ny nz (zeros), f_dc_0..2, f_rest_0..3*(K-1)-1 grouped by channel
(all R coefficients, then G, then B), opacity (logit), scale_0..2 (log), rot_0..3 (w first);
then worldgen's `label` (int32), an extra property other readers ignore. Reading accepts any
binary PLY with those properties in any order and of any numeric type, with or without
normals (gsplat's `export_splats` writes none).

The header is parsed here rather than by a generic PLY library so that a hostile file cannot
make us allocate more than the file holds: every size is checked against the file first.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch

from ..gaussians import GaussianScene, SceneError
from .base import FormatError, atomic_write, open_regular

MAX_HEADER_BYTES = 1 << 16
PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
REQUIRED = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
            "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
F_REST_COUNTS = {0: 0, 9: 1, 24: 2, 45: 3}  # number of f_rest properties -> SH degree


def _parse_header(path: Path, head: bytes) -> tuple[str, list[tuple[str, int, list]], int]:
    """-> (byte order '<' or '>', elements [(name, count, [(prop, dtype) | list marker])], data offset)."""
    if not head.startswith(b"ply"):
        raise FormatError(path, "not a PLY file (it does not start with 'ply')")
    m = re.search(rb"end_header\r?\n", head)
    if m is None:
        raise FormatError(path, f"PLY header has no 'end_header' within its first {MAX_HEADER_BYTES} bytes")
    try:
        lines = head[: m.start()].decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise FormatError(path, "PLY header is not ASCII text") from None
    order, elements = None, []
    for number, line in enumerate(lines[1:], start=2):
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            fmt = words[1] if len(words) > 1 else ""
            if fmt == "ascii":
                raise FormatError(path, "ASCII PLY is not supported for splats; save it as binary_little_endian")
            if fmt not in ("binary_little_endian", "binary_big_endian"):
                raise FormatError(path, f"unknown PLY format {fmt!r} on header line {number}")
            order = "<" if fmt == "binary_little_endian" else ">"
        elif words[0] == "element":
            if len(words) != 3 or not words[2].isdecimal():
                raise FormatError(path, f"malformed element line {number}: {line!r}")
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property":
            if not elements:
                raise FormatError(path, f"property before any element on header line {number}")
            if words[-1] in {name for name, _ in elements[-1][2]}:
                raise FormatError(path, f"property {words[-1]!r} appears twice in element {elements[-1][0]!r} "
                                        f"(header line {number})")
            if len(words) >= 2 and words[1] == "list":
                elements[-1][2].append((words[-1], None))
            elif len(words) == 3 and words[1] in PLY_TYPES:
                elements[-1][2].append((words[2], PLY_TYPES[words[1]]))
            else:
                raise FormatError(path, f"malformed property line {number}: {line!r}")
        else:
            raise FormatError(path, f"unknown PLY header keyword {words[0]!r} on line {number}")
    if order is None:
        raise FormatError(path, "PLY header has no format line")
    return order, elements, m.end()


def read_ply(path: str | os.PathLike) -> GaussianScene:
    path = Path(path)
    try:
        with open_regular(path, FormatError) as f:
            size = os.fstat(f.fileno()).st_size  # of the regular file that was opened
            head = f.read(MAX_HEADER_BYTES)
            order, elements, offset = _parse_header(path, head)
            vertex = None
            for name, count, props in elements:
                if any(dt is None for _, dt in props):
                    if name == "vertex":
                        raise FormatError(path, "vertex element has list properties; not a Gaussian splat file")
                    if vertex is None:
                        raise FormatError(path, f"element {name!r} with list properties precedes the vertices")
                    continue
                dtype = np.dtype([(p, order + dt) for p, dt in props])
                if name == "vertex":
                    vertex = (count, dtype, offset)
                    break
                offset += count * dtype.itemsize
            if vertex is None:
                raise FormatError(path, "PLY file has no 'vertex' element")
            count, dtype, offset = vertex
            names = set(dtype.names or ())
            missing = [p for p in REQUIRED if p not in names]
            if missing:
                raise FormatError(path, f"not a 3DGS splat file: vertex properties missing: {', '.join(missing)}")
            rest = sorted((p for p in names if p.startswith("f_rest_")), key=lambda p: int(p[7:]) if p[7:].isdecimal() else -1)
            if len(rest) not in F_REST_COUNTS or rest != [f"f_rest_{i}" for i in range(len(rest))]:
                raise FormatError(path, f"has {len(rest)} f_rest properties; a 3DGS file has 0, 9, 24 or 45 (f_rest_0..N-1)")
            need = count * dtype.itemsize
            if offset + need > size:
                raise FormatError(path, f"declares {count} vertices ({need} bytes) but only {max(size - offset, 0)} bytes "
                                        "follow the header (truncated or corrupt file)")
            f.seek(offset)
            data = np.fromfile(f, dtype=dtype, count=count)
            if data.shape[0] != count:
                raise FormatError(path, f"file ended after {data.shape[0]} of {count} vertices")
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None

    def cols(props):
        return torch.from_numpy(np.stack([data[p].astype(np.float32) for p in props], axis=1)) if props else torch.zeros(count, 0)

    k = (F_REST_COUNTS[len(rest)] + 1) ** 2
    sh = torch.zeros(count, k, 3)
    sh[:, 0] = cols(["f_dc_0", "f_dc_1", "f_dc_2"])
    if k > 1:
        sh[:, 1:] = cols(rest).reshape(count, 3, k - 1).transpose(1, 2)
    labels = _labels(path, data["label"]) if "label" in names else torch.full((count,), -1, dtype=torch.int64)
    scene = GaussianScene(
        means=cols(["x", "y", "z"]),
        quats=cols(["rot_0", "rot_1", "rot_2", "rot_3"]),
        log_scales=cols(["scale_0", "scale_1", "scale_2"]),
        opacity_logits=cols(["opacity"])[:, 0],
        sh=sh,
        labels=labels,
    )
    try:
        return scene.validate()
    except SceneError as e:
        raise FormatError(path, f"invalid Gaussians: {e}") from None


def _labels(path, raw: np.ndarray) -> torch.Tensor:
    """The label column as int64, refusing values that would wrap: NaN, fractions, beyond int32."""
    wide = raw.astype(np.float64)
    bad = ~np.isfinite(wide) | (wide != np.round(wide)) | (wide < -(2**31)) | (wide > 2**31 - 1)
    if raw.dtype.kind in "iu":  # exact for integers of any width (float64 rounds above 2**53)
        bad = (raw < -(2**31)) | (raw > 2**31 - 1) if raw.dtype.kind == "i" else raw > 2**31 - 1
    if bad.any():
        raise FormatError(path, f"{int(bad.sum())} label values are not integers in the int32 range "
                                f"(first: {raw[np.argmax(bad)]!r})")
    return torch.from_numpy(raw.astype(np.int64))


def ply_header(n: int, sh_bases: int, with_label: bool = True) -> bytes:
    props = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    props += [f"f_rest_{i}" for i in range(3 * (sh_bases - 1))]
    props += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    lines = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    lines += [f"property float {p}" for p in props]
    if with_label:
        lines.append("property int label")
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def write_ply(scene: GaussianScene, path: str | os.PathLike) -> None:
    """Write `scene` as an INRIA 3DGS .ply (plus the `label` property), atomically."""
    try:
        scene.validate()
    except SceneError as e:
        raise FormatError(path, f"refusing to write invalid Gaussians: {e}") from None
    s = scene.detach().to("cpu")
    n, k = len(s), s.sh.shape[1]
    floats = torch.cat(
        [
            s.means, torch.zeros(n, 3), s.sh[:, 0],
            s.sh[:, 1:].transpose(1, 2).reshape(n, 3 * (k - 1)),  # grouped by channel
            s.opacity_logits[:, None], s.log_scales, s.quats,
        ],
        dim=1,
    ).to(torch.float32).numpy()
    record = np.dtype([("f", "<f4", floats.shape[1]), ("label", "<i4")])
    rows = np.empty(n, dtype=record)
    rows["f"] = floats
    rows["label"] = s.labels.clamp(-(2**31), 2**31 - 1).numpy().astype(np.int32)
    atomic_write(path, [ply_header(n, k), rows.tobytes()])
