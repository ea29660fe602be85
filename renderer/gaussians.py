"""GaussianScene: the explicit 3D representation every worldgen world ends as.

Parameters are stored raw, before activation, exactly as the INRIA .ply stores them:

    means          [N, 3]   world position, metres
    quats          [N, 4]   rotation quaternion, w first, not necessarily normalised
    log_scales     [N, 3]   log of the standard deviations along the local axes
    opacity_logits [N]      logit of the opacity
    sh             [N, K, 3] spherical-harmonic coefficients, K = (degree + 1) ** 2, sh[:, 0] is DC
    labels         [N]      int64 semantic label per Gaussian, -1 where unlabelled
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Sequence

import torch
from torch import Tensor
from .errors import WorldgenError

SH_C0 = 0.28209479177387814  # Y_0^0; DC colour = 0.5 + SH_C0 * sh[:, 0]
MAX_SH_DEGREE = 3


class SceneError(WorldgenError):
    """A GaussianScene whose tensors are inconsistent or hold non-finite values."""


def sh_degree_from_bases(k: int) -> int:
    d = math.isqrt(k) - 1
    if (d + 1) ** 2 != k or not 0 <= d <= MAX_SH_DEGREE:
        raise SceneError(f"SH coefficient count must be 1, 4, 9 or 16 per channel, got {k}")
    return d


def rgb_to_sh0(rgb: Tensor) -> Tensor:
    return (rgb - 0.5) / SH_C0


def sh0_to_rgb(sh0: Tensor) -> Tensor:
    return sh0 * SH_C0 + 0.5


@dataclass
class GaussianScene:
    means: Tensor
    quats: Tensor
    log_scales: Tensor
    opacity_logits: Tensor
    sh: Tensor
    labels: Tensor

    def __post_init__(self) -> None:
        self.validate(check_finite=False)

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def from_points(
        cls,
        xyz: Tensor,
        rgb: Tensor,
        *,
        scale: float | Tensor = 0.01,
        opacity: float | Tensor = 0.9,
        labels: Tensor | None = None,
        sh_degree: int = 0,
    ) -> "GaussianScene":
        """Isotropic Gaussians at points [N, 3] with colours [N, 3] in [0, 1]."""
        xyz = torch.as_tensor(xyz, dtype=torch.float32)
        n = xyz.shape[0]
        rgb = torch.as_tensor(rgb, dtype=torch.float32).reshape(n, 3)
        scale_t = torch.as_tensor(scale, dtype=torch.float32).expand(n).reshape(n, 1).expand(n, 3)
        opacity_t = torch.as_tensor(opacity, dtype=torch.float32).expand(n).clamp(1e-6, 1 - 1e-6)
        sh = torch.zeros(n, (sh_degree + 1) ** 2, 3)
        sh[:, 0] = rgb_to_sh0(rgb)
        quats = torch.zeros(n, 4)
        quats[:, 0] = 1.0
        return cls(
            means=xyz.clone(),
            quats=quats,
            log_scales=scale_t.log().clone(),
            opacity_logits=torch.logit(opacity_t).clone(),
            sh=sh,
            labels=(torch.full((n,), -1, dtype=torch.int64) if labels is None else torch.as_tensor(labels).long().reshape(n)),
        )

    @classmethod
    def empty(cls, sh_degree: int = 0) -> "GaussianScene":
        return cls.from_points(torch.zeros(0, 3), torch.zeros(0, 3), sh_degree=sh_degree)

    # ---- properties ------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def num_gaussians(self) -> int:
        return len(self)

    @property
    def sh_degree(self) -> int:
        return sh_degree_from_bases(self.sh.shape[1])

    @property
    def device(self) -> torch.device:
        return self.means.device

    def scales(self) -> Tensor:
        return self.log_scales.exp()

    def opacities(self) -> Tensor:
        return torch.sigmoid(self.opacity_logits)

    def rgb(self) -> Tensor:
        """View-independent (DC) colour [N, 3], clamped to [0, 1]."""
        return sh0_to_rgb(self.sh[:, 0]).clamp(0, 1)

    def bounds(self) -> tuple[Tensor, Tensor]:
        """Axis-aligned bounds of the means, (min [3], max [3])."""
        if len(self) == 0:
            raise SceneError("an empty scene has no bounds")
        return self.means.detach().amin(0), self.means.detach().amax(0)

    def center(self) -> Tensor:
        lo, hi = self.bounds()
        return (lo + hi) / 2

    # ---- validation --------------------------------------------------------------------------
    def validate(self, check_finite: bool = True) -> "GaussianScene":
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        expect = {
            "means": (n, 3),
            "quats": (n, 4),
            "log_scales": (n, 3),
            "opacity_logits": (n,),
            "labels": (n,),
        }
        if n < 0 or self.means.shape[1:] != (3,):
            raise SceneError(f"means must be [N, 3], got {tuple(self.means.shape)}")
        for name, shape in expect.items():
            t = getattr(self, name)
            if not isinstance(t, Tensor):
                raise SceneError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if tuple(t.shape) != shape:
                raise SceneError(f"{name} must have shape {list(shape)} for N={n}, got {list(t.shape)}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise SceneError(f"sh must be [N, K, 3] for N={n}, got {list(self.sh.shape)}")
        sh_degree_from_bases(self.sh.shape[1])
        if self.labels.dtype != torch.int64:
            raise SceneError(f"labels must be int64, got {self.labels.dtype}")
        float_fields = ("means", "quats", "log_scales", "opacity_logits", "sh")
        for name in float_fields:
            if not getattr(self, name).is_floating_point():
                raise SceneError(f"{name} must be floating point, got {getattr(self, name).dtype}")
        if check_finite:
            for name in float_fields:
                bad = ~_rows_finite(getattr(self, name))
                if bad.any():
                    first = int(bad.nonzero()[0])
                    raise SceneError(f"{name} has NaN or infinite values in {int(bad.sum())} Gaussians (first at index {first})")
            if n and (self.quats.detach().norm(dim=-1) < 1e-12).any():
                raise SceneError("quats has zero-length quaternions")
        return self

    def finite_mask(self) -> Tensor:
        """[N] bool, True where every parameter of the Gaussian is finite."""
        ok = torch.ones(len(self), dtype=torch.bool, device=self.device)
        for name in ("means", "quats", "log_scales", "opacity_logits", "sh"):
            ok &= _rows_finite(getattr(self, name))
        return ok

    # ---- structural operations -----------------------------------------------------------
    def _map(self, fn) -> "GaussianScene":
        return GaussianScene(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def to(self, device: torch.device | str) -> "GaussianScene":
        return self._map(lambda t: t.to(device))

    def detach(self) -> "GaussianScene":
        return self._map(lambda t: t.detach())

    def clone(self) -> "GaussianScene":
        return self._map(lambda t: t.clone())

    def double(self) -> "GaussianScene":
        return self._map(lambda t: t if t.dtype == torch.int64 else t.double())

    def subset(self, index: Tensor | slice | Sequence[int]) -> "GaussianScene":
        """The Gaussians selected by a bool mask [N], integer indices or a slice."""
        if isinstance(index, Tensor) and index.dtype == torch.bool and index.shape != (len(self),):
            raise SceneError(f"mask must have shape [{len(self)}], got {list(index.shape)}")
        if not isinstance(index, (Tensor, slice)):
            index = torch.as_tensor(index, dtype=torch.int64)
        return self._map(lambda t: t[index])

    @staticmethod
    def concat(scenes: Sequence["GaussianScene"]) -> "GaussianScene":
        """One scene holding all Gaussians; lower SH degrees are zero-padded to the highest."""
        if not scenes:
            raise SceneError("concat needs at least one scene")
        k = max(s.sh.shape[1] for s in scenes)

        def pad(s: GaussianScene) -> GaussianScene:
            if s.sh.shape[1] == k:
                return s
            extra = s.sh.new_zeros(len(s), k - s.sh.shape[1], 3)
            return replace(s, sh=torch.cat([s.sh, extra], dim=1))

        padded = [pad(s) for s in scenes]
        return GaussianScene(**{f.name: torch.cat([getattr(s, f.name) for s in padded]) for f in fields(GaussianScene)})

    def with_sh_degree(self, degree: int) -> "GaussianScene":
        """Truncate or zero-pad the SH coefficients to `degree`."""
        k = (degree + 1) ** 2
        sh_degree_from_bases(k)
        if k <= self.sh.shape[1]:
            return replace(self, sh=self.sh[:, :k])
        return replace(self, sh=torch.cat([self.sh, self.sh.new_zeros(len(self), k - self.sh.shape[1], 3)], dim=1))

    def transform(self, matrix: Tensor, scale: float = 1.0) -> "GaussianScene":
        """Apply x -> scale * R x + t for a rigid [4, 4] (or [3, 4]) matrix and a uniform scale.

        Rotates means, orientations and the view-dependent SH bands, so the scene renders
        from transformed cameras exactly as the original did from the original cameras.
        """
        m = torch.as_tensor(matrix, dtype=self.means.dtype, device=self.device)
        if m.shape not in ((4, 4), (3, 4)):
            raise SceneError(f"transform must be 4x4 or 3x4, got {list(m.shape)}")
        R, t = m[:3, :3], m[:3, 3]
        if not torch.allclose(R @ R.T, torch.eye(3, dtype=R.dtype, device=R.device), atol=1e-4) or torch.det(R) < 0:
            raise SceneError("transform rotation must be orthonormal with determinant +1; use `scale` for size")
        if not scale > 0:
            raise SceneError(f"scale must be positive, got {scale}")
        q_r = rotmat_to_quat(R).to(self.quats)
        return replace(
            self,
            means=scale * self.means @ R.T + t,
            quats=quat_multiply(q_r.expand_as(self.quats), self.quats),
            log_scales=self.log_scales + math.log(scale),
            sh=rotate_sh(self.sh, R),
        )


def _rows_finite(t: Tensor) -> Tensor:
    """[N, ...] -> [N] bool: every value of the row is finite."""
    f = torch.isfinite(t.detach())
    return f.flatten(1).all(dim=1) if f.ndim > 1 else f


# ---- rotations ------------------------------------------------------------------------------
def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product of w-first quaternions [..., 4]."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def rotmat_to_quat(R: Tensor) -> Tensor:
    """3x3 rotation -> unit w-first quaternion [4] (Shepperd's method, numerically stable)."""
    R = R.double()
    tr = R.trace()
    if tr > 0:
        s = torch.sqrt(tr + 1.0) * 2
        q = [0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = torch.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2]) * 2
        q = [(R[2, 1] - R[1, 2]) / s, 0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s]
    elif R[1, 1] > R[2, 2]:
        s = torch.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2]) * 2
        q = [(R[0, 2] - R[2, 0]) / s, (R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s]
    else:
        s = torch.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1]) * 2
        q = [(R[1, 0] - R[0, 1]) / s, (R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s]
    q = torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in q])
    return (q / q.norm()).float()


def rotate_sh(sh: Tensor, R: Tensor) -> Tensor:
    """Rotate SH coefficients [N, K, 3] so that f'(R d) = f(d) for every direction d.

    Each band l is closed under rotation, so its (2l+1)x(2l+1) rotation matrix is recovered
    exactly by least squares from the basis evaluated at sample directions d and R^T d.
    """
    from gsplat.cuda._torch_impl import _eval_sh_bases_fast

    k = sh.shape[1]
    if k == 1:
        return sh
    gen = torch.Generator().manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(64, 3, generator=gen, dtype=torch.float64), dim=-1)
    R64 = R.detach().to("cpu", torch.float64)
    Y = _eval_sh_bases_fast(k, dirs)  # Y(d)
    Y_rot = _eval_sh_bases_fast(k, dirs @ R64)  # Y(R^T d), rows are (R^T d)^T = d^T R
    out = [sh[:, :1]]
    for l in range(1, sh_degree_from_bases(k) + 1):
        band = slice(l * l, (l + 1) * (l + 1))
        # f'(d) = sum_m c'_m Y_m(d) must equal f(R^T d) = sum_m c_m Y_m(R^T d):  Y c' = Y_rot c
        M = torch.linalg.lstsq(Y[:, band], Y_rot[:, band]).solution  # [2l+1, 2l+1]
        out.append(torch.einsum("ij,njc->nic", M.to(sh), sh[:, band]))
    return torch.cat(out, dim=1)
