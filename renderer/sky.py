"""The sky: an environment of colour by view direction, and its export as a shell of far Gaussians.

Pixels that see no surface (depth 0 where the label is sky) carry no depth, so no Gaussian can be
placed there. Lifting models them instead with a small equirectangular texture `[3, H, W]`
looked up by each pixel's world ray direction (bilinear, wrapping in azimuth) and composited
behind the splats: `rgb = splat_rgb + (1 - alpha) * sky(dir)`.

Texture layout: row 0 looks at the zenith (+Z), the last row at the nadir, rows evenly spaced
in elevation; column 0 starts at azimuth -pi (atan2(y, x)), columns evenly spaced eastwards.

For viewers that know only Gaussians (SuperSplat, gsplat.js, our own rasteriser), `sky_shell`
bakes the texture into thin, opaque discs tangent to a sphere far beyond the scene, at
Fibonacci-sphere directions, labelled `SKY_LABEL`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .camera import Camera
from .gaussians import GaussianScene, rgb_to_sh0
from .raycast import SKY_LABEL

DEFAULT_SKY_SIZE = (32, 64)  # (rows, columns): 5.6 degrees a texel, smooth skies need no more
# Shell discs: tangential standard deviation as a multiple of the mean spacing of their centres.
# At 0.8 three neighbours cover the middle of their triangle to alpha > 0.99, so the shell is
# opaque everywhere without each disc reaching over many tiles.
SHELL_SIGMA_PER_SPACING = 0.8
SHELL_FLATNESS = 0.05  # radial / tangential standard deviation: discs, so the sky has one depth


def pixel_directions(camera: Camera) -> Tensor:
    """World unit ray direction of every pixel centre, [H, W, 3]."""
    return camera.rays()[1]


def _grid(dirs: Tensor, rows: int, cols: int) -> Tensor:
    """grid_sample coordinates [..., 2] of unit directions [..., 3] in a texture padded by one
    column on each side (for the azimuth wrap), with align_corners=True."""
    d = F.normalize(dirs, dim=-1)
    azimuth = torch.atan2(d[..., 1], d[..., 0])  # [-pi, pi]
    elevation = torch.asin(d[..., 2].clamp(-1.0, 1.0))
    col = (azimuth + math.pi) / (2 * math.pi) * cols - 0.5 + 1.0  # texel centres, +1 for the left pad
    row = (math.pi / 2 - elevation) / math.pi * rows - 0.5
    x = col / (cols + 1) * 2 - 1
    y = row / max(rows - 1, 1) * 2 - 1
    return torch.stack([x, y], dim=-1)


def sample_sky(texture: Tensor, dirs: Tensor) -> Tensor:
    """Colours [..., 3] of the sky texture [3, H, W] in unit directions [..., 3] (differentiable in
    the texture); clamped to [0, 1]."""
    _, rows, cols = texture.shape
    padded = torch.cat([texture[:, :, -1:], texture, texture[:, :, :1]], dim=2)  # wrap in azimuth
    shape = dirs.shape[:-1]
    grid = _grid(dirs.reshape(1, 1, -1, 3), rows, cols).to(texture.dtype)
    out = F.grid_sample(padded[None], grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0, :, 0].T.reshape(*shape, 3).clamp(0.0, 1.0)


def fit_sky(dirs: Tensor, rgb: Tensor, size: tuple[int, int] = DEFAULT_SKY_SIZE) -> Tensor:
    """A first sky texture [3, H, W] from observed sky pixels: directions [P, 3], colours [P, 3].

    Each texel is the mean colour of the pixels nearest its centre; texels no pixel saw (below
    the horizon, behind the cameras) take the colour of the nearest seen texel, so that the
    shell and far-off views show a plausible continuation rather than black."""
    from scipy import ndimage

    rows, cols = size
    texture = torch.zeros(3, rows, cols)
    if len(dirs) == 0:
        return texture
    g = _grid(dirs.reshape(-1, 3), rows, cols)
    c = (((g[:, 0] + 1) / 2 * (cols + 1)).round().long() - 1) % cols  # undo the pad, wrap
    r = ((g[:, 1] + 1) / 2 * max(rows - 1, 1)).round().long().clamp(0, rows - 1)
    cell = r * cols + c
    count = torch.bincount(cell, minlength=rows * cols).float()
    total = torch.zeros(rows * cols, 3).index_add_(0, cell, rgb.reshape(-1, 3).float())
    seen = count > 0
    mean = torch.where(seen[:, None], total / count.clamp(min=1)[:, None], 0.0)
    grid = mean.reshape(rows, cols, 3).numpy()
    missing = (~seen).reshape(rows, cols).numpy()
    if missing.any():
        # Tile three copies side by side so that "nearest" wraps around in azimuth.
        tiled = np.concatenate([missing] * 3, axis=1)
        idx = ndimage.distance_transform_edt(tiled, return_distances=False, return_indices=True)
        ri, ci = idx[0][:, cols:2 * cols], idx[1][:, cols:2 * cols] % cols
        grid = grid[ri, ci]
    return torch.from_numpy(np.ascontiguousarray(grid)).permute(2, 0, 1).float().contiguous()


def fibonacci_directions(n: int) -> Tensor:
    """n unit directions [n, 3] spread evenly over the sphere (golden-angle spiral)."""
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    r = torch.sqrt((1 - z * z).clamp(min=0))
    phi = i * math.pi * (3 - math.sqrt(5))
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=1).float()


def quats_z_to(dirs: Tensor) -> Tensor:
    """Unit w-first quaternions [N, 4] rotating +Z onto each unit direction [N, 3]."""
    z = torch.tensor([0.0, 0.0, 1.0])
    axis = torch.cross(z.expand_as(dirs), dirs, dim=1)
    w = 1.0 + dirs[:, 2]
    q = torch.cat([w[:, None], axis], dim=1)
    # The nadir has no unique half-way rotation: turn half a turn about x.
    q[w < 1e-6] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    return F.normalize(q, dim=1)


def sky_shell(texture: Tensor, center: Tensor, radius: float, n: int = 2000, opacity: float = 0.995) -> GaussianScene:
    """The sky texture [3, H, W] as n opaque discs tangent to a sphere of `radius` metres around
    `center` [3], coloured by the texture in their direction, labelled SKY_LABEL."""
    dirs = fibonacci_directions(n)
    spacing = radius * math.sqrt(4 * math.pi / n)
    sigma = SHELL_SIGMA_PER_SPACING * spacing
    with torch.no_grad():
        rgb = sample_sky(texture.detach().float(), dirs)
    means = torch.as_tensor(center, dtype=torch.float32) + radius * dirs
    log_scales = torch.log(torch.tensor([sigma, sigma, sigma * SHELL_FLATNESS])).expand(n, 3).clone()
    logit = torch.full((n,), math.log(opacity / (1 - opacity)))
    return GaussianScene(means, quats_z_to(dirs), log_scales, logit, rgb_to_sh0(rgb)[:, None, :],
                         torch.full((n,), SKY_LABEL, dtype=torch.int64))


def shell_mask(scene: GaussianScene) -> Tensor:
    """[N] bool: the sky shell's Gaussians (labelled sky; no other Gaussian is, since sky pixels
    have no depth to place one at)."""
    return scene.labels == SKY_LABEL


def save_sky_png(texture: Tensor, path) -> None:
    """The texture [3, H, W] as an 8-bit equirectangular PNG, written atomically."""
    import io

    from PIL import Image

    from .formats.base import atomic_write

    img = (texture.detach().clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    atomic_write(path, [buf.getvalue()])


def load_sky_png(path) -> Tensor:
    """An equirectangular PNG -> texture [3, H, W] float32 in [0, 1]."""
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()
