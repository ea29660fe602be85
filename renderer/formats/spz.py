"""Niantic .spz (the compressed splat format of nianticlabs/spz, read by Spark and Marble).

Written from the published layout, versions 2 and 3 (one gzip stream). Decompressed, a file is
a 16-byte little-endian header

    uint32 magic 0x5053474e ("NGSP"), uint32 version, uint32 numPoints,
    uint8 shDegree, uint8 fractionalBits, uint8 flags (0x1 antialiased, 0x2 extensions), uint8 0

followed by one block per attribute, each over all points in order:

    positions  3 x 24-bit signed fixed point (little-endian), value = int / 2**fractionalBits
    alphas     uint8, sigmoid(opacity) * 255
    colours    3 x uint8, DC SH coefficient * (0.15 * 255) + 127.5 (wider than [0, 1] on purpose)
    scales     3 x uint8, (log scale + 10) * 16
    rotations  v2: 3 x uint8, (x, y, z) * 127.5 + 127.5 of the unit quaternion with w >= 0;
               v3: 4 bytes, one little-endian uint32: 2 bits index of the largest component
               (x, y, z, w order), then for the other three in order 1 sign bit + 9-bit magnitude
               of |q_i| / sqrt(1/2) (the first one in the highest bits)
    SH rest    per point, (deg+1)**2 - 1 coefficients x 3 channels, channel fastest,
               uint8 = x * 128 + 128, snapped to buckets (8 wide for band 1, 16 for bands 2-3)

then, when flags has 0x2, vendor extension records, which we skip.

Coordinates are stored as given, exactly as our .ply and .splat writers do: the axis convention
is chosen by the exporter (`worldgen export --format spz --axes ...`). The spz reference treats a
file without the coordinate-system extension as RUB (x right, y up, z back: OpenGL / three.js),
which is `--axes opengl`, the exporter's default; a file exported with `--axes opencv` is RDF
like an INRIA .ply and readers that assume RUB will show it upside down. Reading returns the
file's coordinates unchanged (a Marble/Spark file loads +Y up).

Not representable: labels (read as -1), the antialiased flag (written 0; `read_spz_header` reports
it so a caller can render with `antialiased=True`), SH band 4 (refused on reading). Version 4
(zstd streams behind a plain "NGSP" header) is recognised and refused with that reason; version 1
(float16 positions, never released) likewise.

Hostile files: the header is read first from the stream; the point count is checked against a
limit and against what deflate could possibly expand the file to, and the body is inflated
incrementally with a bound of the size the header implies, so no buffer is sized by the header
and a bomb stops at the bound.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..gaussians import GaussianScene, SceneError
from .base import FormatError, atomic_write, open_regular

MAGIC = 0x5053474E
HEADER = struct.Struct("<IIIBBBB")  # magic, version, numPoints, shDegree, fractionalBits, flags, reserved
READ_VERSIONS = (2, 3)
WRITE_VERSION = 3
COLOR_SCALE = 0.15
FRACTIONAL_BITS = 12  # the reference's choice: ~0.24 mm steps, +-2048 m range
MAX_FRACTIONAL_BITS = 24
MAX_SH_DEGREE = 3  # what a GaussianScene holds; the format allows 4
FLAG_ANTIALIASED, FLAG_EXTENSIONS = 0x1, 0x2
MAX_POINTS = 1 << 26  # 67M Gaussians; real scenes are a few million
MAX_EXTENSION_BYTES = 1 << 20  # what we are willing to inflate (and skip) after the attributes
MAX_DEFLATE_RATIO = 1032  # deflate's theoretical maximum expansion
CHUNK = 1 << 20
SQRT1_2 = math.sqrt(0.5)


@dataclass(frozen=True)
class SpzHeader:
    version: int
    num_points: int
    sh_degree: int
    fractional_bits: int
    antialiased: bool
    has_extensions: bool

    @property
    def rotation_bytes(self) -> int:
        return 4 if self.version >= 3 else 3

    @property
    def sh_coeffs(self) -> int:
        return (self.sh_degree + 1) ** 2 - 1

    @property
    def bytes_per_point(self) -> int:
        return 9 + 1 + 3 + 3 + self.rotation_bytes + 3 * self.sh_coeffs

    @property
    def body_bytes(self) -> int:
        return self.num_points * self.bytes_per_point


class _Inflater:
    """Incremental gzip reader over an open file that never returns more than asked for."""

    def __init__(self, path: Path, f):
        self.path, self.f = path, f
        self.z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = b""  # compressed input not yet consumed

    def read(self, n: int) -> bytes:
        """Up to n bytes of decompressed data (fewer only at the end of the stream)."""
        out = []
        while n > 0 and not self.z.eof:
            if not self.pending:
                self.pending = self.f.read(CHUNK)
                if not self.pending:
                    break
            try:
                piece = self.z.decompress(self.pending, min(n, CHUNK))
            except zlib.error as e:
                raise FormatError(self.path, f"corrupt gzip data: {e}") from None
            self.pending = self.z.unconsumed_tail
            out.append(piece)
            n -= len(piece)
        return b"".join(out)

    def truncated(self) -> bool:
        return not self.z.eof


def _parse_header(path: Path, raw: bytes, compressed_size: int) -> SpzHeader:
    if len(raw) < HEADER.size:
        raise FormatError(path, f"truncated: the gzip stream holds {len(raw)} bytes, less than the {HEADER.size}-byte spz header")
    magic, version, n, degree, frac, flags, _ = HEADER.unpack(raw[: HEADER.size])
    if magic != MAGIC:
        raise FormatError(path, f"not an spz file (magic 0x{magic:08x}, expected 0x{MAGIC:08x} 'NGSP')")
    if version not in READ_VERSIONS:
        why = {1: " (float16 positions, never released)", 4: " inside a gzip stream (version 4 is zstd)"}.get(version, "")
        raise FormatError(path, f"unsupported spz version {version}{why}; readable versions: 2, 3")
    if degree > 4:
        raise FormatError(path, f"invalid SH degree {degree} (spz allows 0-4)")
    if degree > MAX_SH_DEGREE:
        raise FormatError(path, f"SH degree {degree} is not supported (worldgen scenes hold degree 0-{MAX_SH_DEGREE})")
    if frac > MAX_FRACTIONAL_BITS:
        raise FormatError(path, f"invalid fractionalBits {frac} for 24-bit positions (at most {MAX_FRACTIONAL_BITS})")
    header = SpzHeader(version, n, degree, frac, bool(flags & FLAG_ANTIALIASED), bool(flags & FLAG_EXTENSIONS))
    if n > MAX_POINTS:
        raise FormatError(path, f"claims {n} Gaussians, over the limit of {MAX_POINTS}")
    possible = compressed_size * MAX_DEFLATE_RATIO
    if header.body_bytes + HEADER.size > possible:
        raise FormatError(path, f"claims {n} Gaussians ({header.body_bytes} bytes), more than a {compressed_size}-byte "
                                "gzip file can hold (truncated or corrupt file)")
    return header


def _open(path: Path):
    """-> (open file, inflater, header); raises FormatError for anything that is not a v2/v3 spz."""
    try:
        f = open_regular(path, FormatError)
        size = os.fstat(f.fileno()).st_size  # of the regular file that was opened
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    try:
        start = f.read(4)
        if start == b"NGSP":
            version = struct.unpack("<I", f.read(4).ljust(4, b"\0"))[0]
            raise FormatError(path, f"spz version {version} (zstd streams) is not supported; readable versions: 2, 3 "
                                    "(gzip); re-save it with the spz tools' version 3")
        if start[:2] != b"\x1f\x8b":
            raise FormatError(path, "not an spz file (it is not gzip-compressed)")
        f.seek(0)
        inflater = _Inflater(path, f)
        header = _parse_header(path, inflater.read(HEADER.size), size)
        return f, inflater, header
    except OSError as e:
        f.close()
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    except BaseException:
        f.close()
        raise


def read_spz_header(path: str | os.PathLike) -> SpzHeader:
    """The header of an spz file (version, counts, antialiased flag) without decoding the Gaussians."""
    path = Path(path)
    f, _, header = _open(path)
    f.close()
    return header


def _decode_positions(raw: np.ndarray, frac: int) -> np.ndarray:
    b = raw.reshape(-1, 3, 3).astype(np.int32)
    v = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    v = (v ^ 0x800000) - 0x800000  # sign-extend 24 bits
    return (v.astype(np.float64) / (1 << frac)).astype(np.float32)


def _decode_rotations(raw: np.ndarray, version: int) -> np.ndarray:
    """-> [N, 4] unit quaternions, w first."""
    n = raw.shape[0] // (4 if version >= 3 else 3)
    if version >= 3:
        comp = raw.reshape(n, 4).astype(np.uint32)
        comp = comp[:, 0] | (comp[:, 1] << 8) | (comp[:, 2] << 16) | (comp[:, 3] << 24)
        largest = (comp >> 30).astype(np.int64)
        xyzw = np.zeros((n, 4), np.float64)
        rows = np.arange(n)
        # The last stored component (in x, y, z, w order, skipping the largest) sits in the lowest bits.
        for slot in range(3):
            bits = (comp >> (10 * slot)) & 0x3FF
            value = SQRT1_2 * (bits & 0x1FF) / 511.0 * np.where(bits & 0x200, -1.0, 1.0)
            index = 3 - slot - (largest >= 3 - slot)  # the slot-th index, counting down from w, that is not the largest
            xyzw[rows, index] = value
        xyzw[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - (xyzw ** 2).sum(1)))
    else:
        xyz = raw.reshape(n, 3).astype(np.float64) / 127.5 - 1.0
        w = np.sqrt(np.maximum(0.0, 1.0 - (xyz ** 2).sum(1)))
        xyzw = np.concatenate([xyz, w[:, None]], axis=1)
    norm = np.linalg.norm(xyzw, axis=1, keepdims=True)
    xyzw = np.where(norm > 1e-12, xyzw / np.maximum(norm, 1e-12), np.array([0.0, 0, 0, 1]))
    return xyzw[:, [3, 0, 1, 2]].astype(np.float32)


def read_spz(path: str | os.PathLike) -> GaussianScene:
    path = Path(path)
    f, inflater, h = _open(path)
    with f:
        try:
            body = inflater.read(h.body_bytes)
            if len(body) < h.body_bytes:
                raise FormatError(path, f"truncated: header declares {h.num_points} Gaussians ({h.body_bytes} bytes) but "
                                        f"the stream holds {len(body)} bytes after the header")
            extra = inflater.read(MAX_EXTENSION_BYTES + 1)
        except OSError as e:
            raise FormatError(path, f"cannot read: {e.strerror or e}") from None
        if len(extra) > MAX_EXTENSION_BYTES:
            raise FormatError(path, f"decompresses to more than the {h.body_bytes} bytes that {h.num_points} Gaussians "
                                    f"need plus {MAX_EXTENSION_BYTES} (corrupt or hostile file)")
        if extra and not h.has_extensions:
            raise FormatError(path, f"{len(extra)} bytes follow the {h.num_points} Gaussians but the header declares "
                                    "no extensions (wrong point count or corrupt file)")
        if inflater.truncated():
            raise FormatError(path, "truncated: the gzip stream ends early")
    n = h.num_points
    data = np.frombuffer(body, dtype=np.uint8)
    offsets = np.cumsum([0, 9 * n, n, 3 * n, 3 * n, h.rotation_bytes * n, 3 * h.sh_coeffs * n])
    pos, alpha, color, scale, rot, shr = (data[offsets[i]:offsets[i + 1]] for i in range(6))

    sh = torch.zeros(n, h.sh_coeffs + 1, 3)
    sh[:, 0] = torch.from_numpy(((color.reshape(n, 3).astype(np.float32) / 255.0 - 0.5) / COLOR_SCALE))
    if h.sh_coeffs:
        sh[:, 1:] = torch.from_numpy((shr.reshape(n, h.sh_coeffs, 3).astype(np.float32) - 128.0) / 128.0)
    # Finite logits for 0 and 255, close enough that writing them again gives 0 and 255.
    a = torch.from_numpy(alpha.astype(np.float64) / 255.0).clamp(0.01 / 255, 1 - 0.01 / 255)
    scene = GaussianScene(
        means=torch.from_numpy(_decode_positions(pos, h.fractional_bits)),
        quats=torch.from_numpy(_decode_rotations(rot, h.version)),
        log_scales=torch.from_numpy(scale.reshape(n, 3).astype(np.float32) / 16.0 - 10.0),
        opacity_logits=torch.logit(a).float(),
        sh=sh,
        labels=torch.full((n,), -1, dtype=torch.int64),
    )
    try:
        return scene.validate()
    except SceneError as e:
        raise FormatError(path, f"invalid Gaussians: {e}") from None


def _round(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (C's std::round, which the reference encoder uses)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(_round(x), 0, 255).astype(np.uint8)


def _quantize_sh(x: np.ndarray, bits: int) -> np.ndarray:
    bucket = 1 << (8 - bits)
    q = _round(x * 128.0) + 128.0
    q = np.floor((q + bucket // 2) / bucket) * bucket
    return np.clip(q, 0, 255).astype(np.uint8)


def _encode_rotations(wxyz: np.ndarray, version: int) -> np.ndarray:
    norm = np.linalg.norm(wxyz, axis=1, keepdims=True)
    q = (wxyz / np.maximum(norm, 1e-30))[:, [1, 2, 3, 0]]  # x, y, z, w
    n = q.shape[0]
    if version < 3:
        q = q * np.where(q[:, 3:] < 0, -1.0, 1.0)
        return _to_u8(q[:, :3] * 127.5 + 127.5).reshape(-1)
    largest = np.abs(q).argmax(1)
    rows = np.arange(n)
    q = q * np.where(q[rows, largest] < 0, -1.0, 1.0)[:, None]  # make the largest positive; -q is the same rotation
    comp = largest.astype(np.uint64)
    for i in range(4):
        keep = largest != i
        mag = np.floor(511.0 * np.abs(q[:, i]) / SQRT1_2 + 0.5).astype(np.uint64).clip(0, 511)
        field = ((q[:, i] < 0).astype(np.uint64) << np.uint64(9)) | mag
        comp = np.where(keep, (comp << np.uint64(10)) | field, comp)
    return comp.astype("<u4").view(np.uint8).reshape(-1)


def _fractional_bits(means: np.ndarray, path) -> int:
    """The reference's 12 bits, fewer where the scene is too large for 24-bit positions at 12."""
    extent = float(np.abs(means).max()) if means.size else 0.0
    for frac in range(FRACTIONAL_BITS, -1, -1):
        if extent * (1 << frac) + 0.5 < (1 << 23) - 1:
            return frac
    raise FormatError(path, f"positions up to {extent:.3g} do not fit spz's 24-bit fixed point (at most about {2**23:.3g})")


def encode_spz(scene: GaussianScene, version: int = WRITE_VERSION, sh1_bits: int = 5, sh_rest_bits: int = 4,
               path: str | os.PathLike = "<spz>") -> bytes:
    """The decompressed spz bytes (header + attributes) for `scene`."""
    if version not in READ_VERSIONS:
        raise FormatError(path, f"cannot write spz version {version}; choose 2 or 3")
    if not (1 <= sh1_bits <= 8 and 1 <= sh_rest_bits <= 8):
        raise FormatError(path, f"SH quantisation bits must be 1-8, got {sh1_bits} and {sh_rest_bits}")
    try:
        scene.validate()
    except SceneError as e:
        raise FormatError(path, f"refusing to write invalid Gaussians: {e}") from None
    s = scene.detach().to("cpu").double()
    n, k = len(s), s.sh.shape[1]
    if n > MAX_POINTS:
        raise FormatError(path, f"{n} Gaussians are over the spz limit of {MAX_POINTS}")
    means = s.means.numpy()
    frac = _fractional_bits(means, path)
    fixed = _round(means * (1 << frac)).astype(np.int64).reshape(-1)
    pos = np.stack([fixed & 0xFF, (fixed >> 8) & 0xFF, (fixed >> 16) & 0xFF], axis=1).astype(np.uint8).reshape(-1)
    alpha = _to_u8(torch.sigmoid(s.opacity_logits).numpy() * 255.0)
    color = _to_u8(s.sh[:, 0].numpy() * (COLOR_SCALE * 255.0) + 0.5 * 255.0).reshape(-1)
    scale = _to_u8((s.log_scales.numpy() + 10.0) * 16.0).reshape(-1)
    rot = _encode_rotations(s.quats.numpy(), version)
    rest = s.sh[:, 1:].numpy()  # [N, K-1, 3]: coefficient-major, channel fastest, as spz stores it
    sh = np.concatenate([_quantize_sh(rest[:, :3], sh1_bits), _quantize_sh(rest[:, 3:], sh_rest_bits)], axis=1).reshape(-1)
    header = HEADER.pack(MAGIC, version, n, math.isqrt(k) - 1, frac, 0, 0)
    return b"".join([header, pos.tobytes(), alpha.tobytes(), color.tobytes(), scale.tobytes(), rot.tobytes(), sh.tobytes()])


def write_spz(scene: GaussianScene, path: str | os.PathLike, version: int = WRITE_VERSION,
              sh1_bits: int = 5, sh_rest_bits: int = 4) -> None:
    """Write `scene` as gzip-compressed .spz (version 3 by default, 2 on request), atomically.

    Coordinates are written as given; spz readers expect RUB (+Y up, `--axes opengl`). Positions
    use 12 fractional bits as the reference does, fewer for scenes beyond +-2048 m. An empty scene
    is written with numPoints 0, which we read back but the reference loader refuses."""
    raw = encode_spz(scene, version, sh1_bits, sh_rest_bits, path)
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    atomic_write(path, [z.compress(raw), z.flush()])
