"""Camera pose refinement against a Gaussian scene: small rigid corrections fitted by gradient.

Poses from structure from motion agree with each other to about a pixel, and a pixel of error in
every view blurs what a lift can fit. Each camera gets a correction delta = (omega, tau) [6]: a
rotation vector (radians) and a translation (metres), both in the camera's own frame, that moves
it to c2w @ exp(delta). Rendering the scene from the corrected camera is rendering the scene moved
by G = c2w @ exp(delta)^-1 @ w2c from the original one, so the correction gets its gradient
through the Gaussians' means and orientations, on any backend and without a camera gradient in the
rasteriser (gsplat's trainer optimises its viewmats the same way). The view-dependent SH bands are
not rotated: the corrections are small.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from .camera import Camera
from .gaussians import GaussianScene, quat_multiply


def _skew(w: Tensor) -> Tensor:
    zero = torch.zeros((), dtype=w.dtype)
    return torch.stack([torch.stack([zero, -w[2], w[1]]), torch.stack([w[2], zero, -w[0]]),
                        torch.stack([-w[1], w[0], zero])])


def correction(delta: Tensor) -> Tensor:
    """delta [6] (rotation vector, translation) -> the rigid transform exp(delta) [4, 4]."""
    top = torch.cat([torch.linalg.matrix_exp(_skew(delta[:3])), delta[3:, None]], 1)
    return torch.cat([top, torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=delta.dtype)])


def corrected(camera: Camera, delta: Tensor) -> Camera:
    """The camera moved by its correction (c2w @ exp(delta))."""
    c2w = camera.c2w @ correction(delta.detach().float())
    return Camera(camera.K.clone(), c2w, camera.width, camera.height)


def moved_scene(scene: GaussianScene, camera: Camera, delta: Tensor) -> GaussianScene:
    """The scene moved so that `camera` sees it as its corrected pose would (differentiable in
    delta [6] and in the scene)."""
    D = correction(delta)
    R_d, t_d = D[:3, :3], D[:3, 3]
    R_c, t_c = camera.c2w[:3, :3], camera.c2w[:3, 3]
    # G = c2w @ D^-1 @ w2c: its rotation is R_c R_d^T R_c^T, so it turns by -omega about R_c omega.
    R_g = R_c @ R_d.T @ R_c.T
    t_g = t_c - R_c @ (R_d.T @ t_d) - R_g @ t_c
    theta = torch.sqrt((delta[:3] ** 2).sum() + 1e-12)
    q_g = torch.cat([torch.cos(theta / 2)[None], -(R_c @ delta[:3]) * (torch.sin(theta / 2) / theta)])
    return replace(scene, means=scene.means @ R_g.T + t_g,
                   quats=quat_multiply(q_g.expand_as(scene.quats), scene.quats))


def refine_pose(scene: GaussianScene, camera: Camera, image: Tensor, steps: int = 60, lr: float = 2e-3,
                translation_scale: float = 1.0) -> Camera:
    """Fit one camera's pose to `image` [H, W, 3] with the scene held fixed: test-time pose
    alignment, as pose-free NeRF and 3DGS evaluations do for held-out views whose poses come
    from the same structure from motion. translation_scale: metres per unit of the translation
    parameter (the scene's size), so one learning rate suits rotation and translation."""
    from .raster import render

    fixed = GaussianScene(*(t.detach() for t in (scene.means, scene.quats, scene.log_scales, scene.opacity_logits,
                                                 scene.sh)), scene.labels)
    delta = torch.zeros(6, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=lr)
    target = torch.as_tensor(image, dtype=torch.float32)
    scale = torch.tensor([1.0, 1.0, 1.0, translation_scale, translation_scale, translation_scale])
    for _ in range(steps):
        out = render(moved_scene(fixed, camera, delta * scale), camera, with_labels=False)
        loss = (out.rgb[0] - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return corrected(camera, delta.detach() * scale)
