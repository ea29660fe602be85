"""Edits on a GaussianScene: selections, operations, and a history with undo and redo.

Selections are bool masks [N] over the scene's Gaussians:

    select_labels(scene, [label ids])          select_box(scene, center, size, yaw_deg)
    select_sphere(scene, center, radius)       select_instances(instances [N], [instance ids])

Operations are pure functions of (scene, mask, parameters) that return a new scene:

    recolor   mode "tint" (blend towards a colour), "hue" (rotate the hue) or "replace" (the colour,
              keeping each Gaussian's baked shading unless keep_shading=False)
    delete    drop the selected Gaussians
    transform translate [3], rotate about +Z (yaw, degrees), uniform scale, about the selection's centre
    duplicate a transformed copy of the selection appended to the scene
    insert    another scene's Gaussians appended (a procedural asset, a pasted object)
    replace   the selection deleted and another scene's Gaussians appended (a regenerated region)

`EditHistory` applies them and keeps undo/redo. Every edit is logged with the mask it acted on
(packed bits), so `EditHistory.replay(base, log)` rebuilds exactly the same scene: the log is what
a world folder keeps (edits.json). Each Gaussian also carries an instance id ([N] int64, -1 for
none) that the operations keep in step, so objects stay selectable after they move or multiply.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .errors import ArgumentError
from .gaussians import GaussianScene, rgb_to_sh0, sh0_to_rgb

OPS = ("recolor", "delete", "transform", "duplicate", "insert", "replace")
RECOLOR_MODES = ("tint", "hue", "replace")
MAX_INSERT = 1 << 28  # Gaussians one logged insert may carry
MAX_EDITS = 10_000  # a history longer than this is refused (a log is replayed on reopen)


class EditError(ArgumentError):
    """An edit that cannot be applied: an empty selection, an unknown operation, bad parameters."""


# ---- selections --------------------------------------------------------------------------------
def select_labels(scene: GaussianScene, labels: Sequence[int]) -> Tensor:
    return torch.isin(scene.labels, torch.as_tensor(list(labels), dtype=torch.int64))


def box_local(points: Tensor, center: Sequence[float], yaw_deg: float) -> Tensor:
    """Points [n, 3] in the frame of a box at `center` turned by `yaw_deg` about +Z."""
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    d = points - torch.as_tensor(center, dtype=points.dtype)
    return torch.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], dim=1)


def select_box(scene: GaussianScene, center: Sequence[float], size: Sequence[float], yaw_deg: float = 0.0) -> Tensor:
    """Gaussians whose centre lies in the box (centre, full size [3] metres, yaw about +Z)."""
    half = torch.as_tensor(size, dtype=scene.means.dtype).abs() / 2
    return (box_local(scene.means.detach(), center, yaw_deg).abs() <= half).all(dim=1)


def select_sphere(scene: GaussianScene, center: Sequence[float], radius: float) -> Tensor:
    d = scene.means.detach() - torch.as_tensor(center, dtype=scene.means.dtype)
    return (d * d).sum(dim=1) <= float(radius) ** 2


def select_instances(instances: Tensor, ids: Sequence[int]) -> Tensor:
    return torch.isin(instances, torch.as_tensor(list(ids), dtype=torch.int64)) & (instances >= 0)


def selection_center(scene: GaussianScene, mask: Tensor) -> Tensor:
    """The centre of the selection's bounding box [3]."""
    sel = scene.means.detach()[mask]
    return (sel.amin(0) + sel.amax(0)) / 2


# ---- operations ----------------------------------------------------------------------------------
def number_param(value, name: str) -> float:
    """A finite float from a caller's value (a number, or a 0-d array or tensor); anything else,
    a string, a bool, None, NaN or infinity included, is an EditError naming the parameter."""
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    ok = ok or (isinstance(value, (Tensor, np.ndarray)) and value.ndim == 0 and value.dtype not in (torch.bool, np.bool_))
    number = float(value) if ok else math.nan
    if not math.isfinite(number):
        raise EditError(f"{name} must be a finite number, got {value!r}"[:200])
    return number


def _rgb_param(color, name: str = "color") -> Tensor:
    try:
        rgb = torch.as_tensor(color, dtype=torch.float32).reshape(3)
    except (TypeError, ValueError, RuntimeError):
        raise EditError(f"{name} must be three numbers in [0, 1], got {color!r}"[:200]) from None
    if not torch.isfinite(rgb).all() or (rgb < 0).any() or (rgb > 1).any():
        raise EditError(f"{name} must be three numbers in [0, 1], got {rgb.tolist()}")
    return rgb


def _hue_shift(rgb: Tensor, degrees: float) -> Tensor:
    """Rotate hue by `degrees` about the grey axis (the CSS/SVG hue-rotate matrix): luminance kept."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    m = torch.tensor([[0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928],
                      [0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140, 0.072 - c * 0.072 - s * 0.283],
                      [0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072]],
                     dtype=rgb.dtype)
    return (rgb @ m.T).clamp(0, 1)


def recolor(scene: GaussianScene, mask: Tensor, mode: str = "tint", color=None, amount: float = 0.6,
            hue_deg: float = 0.0, keep_shading: bool = True) -> GaussianScene:
    """New DC colours for the selection; view-dependent bands are scaled with the colour's change
    (tint, hue) or cleared (replace), so no old colour shows through at grazing angles."""
    if mode not in RECOLOR_MODES:
        raise EditError(f"recolor mode must be one of {', '.join(RECOLOR_MODES)}, got {mode!r}")
    rgb = sh0_to_rgb(scene.sh[mask, 0]).clamp(0, 1)
    if mode == "hue":
        new = _hue_shift(rgb, number_param(hue_deg, "hue_deg"))
    else:
        target = _rgb_param(color)
        if mode == "tint":
            if not 0.0 <= number_param(amount, "tint amount") <= 1.0:
                raise EditError(f"tint amount must be in [0, 1], got {amount!r}")
            new = rgb * (1 - amount) + target * amount
        else:
            # keep the lighting baked into the Gaussians: scale the new colour by each one's
            # brightness relative to the selection's mean brightness
            if keep_shading and len(rgb):
                lum = rgb.mean(dim=1, keepdim=True)
                new = (target * lum / lum.mean().clamp_min(1e-6)).clamp(0, 1)
            else:
                new = target.expand_as(rgb)
    sh = scene.sh.clone()
    if sh.shape[1] > 1:
        if mode == "replace":
            sh[mask, 1:] = 0
        else:
            ratio = (new + 0.05) / (rgb + 0.05)
            sh[mask, 1:] = sh[mask, 1:] * ratio[:, None, :]
    sh[mask, 0] = rgb_to_sh0(new)
    return replace(scene, sh=sh)


def _moved(part: GaussianScene, translate, yaw_deg: float, scale: float, center: Tensor) -> GaussianScene:
    try:
        t = torch.as_tensor(translate, dtype=torch.float32).reshape(3)
    except (TypeError, ValueError, RuntimeError):
        raise EditError(f"translate must be three numbers (metres), got {translate!r}"[:200]) from None
    yaw_deg, scale = number_param(yaw_deg, "yaw_deg"), number_param(scale, "scale")
    if not torch.isfinite(t).all() or scale <= 0:
        raise EditError(f"transform needs a finite translate and a positive scale, got {t.tolist()}, {scale}")
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    R = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    m = torch.eye(4)
    m[:3, :3] = R
    # x -> scale * R (x - centre) + centre + t
    m[:3, 3] = center + t - scale * (R @ center)
    return part.transform(m, scale=scale)


def transform(scene: GaussianScene, mask: Tensor, translate=(0.0, 0.0, 0.0), yaw_deg: float = 0.0,
              scale: float = 1.0) -> GaussianScene:
    center = selection_center(scene, mask)
    moved = _moved(scene.subset(mask), translate, yaw_deg, scale, center)
    out = scene.clone()
    for name in ("means", "quats", "log_scales", "sh"):
        getattr(out, name)[mask] = getattr(moved, name)
    return out


def delete(scene: GaussianScene, mask: Tensor) -> GaussianScene:
    return scene.subset(~mask)


def duplicate(scene: GaussianScene, mask: Tensor, translate=(0.5, 0.0, 0.0), yaw_deg: float = 0.0,
              scale: float = 1.0) -> GaussianScene:
    copy = _moved(scene.subset(mask), translate, yaw_deg, scale, selection_center(scene, mask))
    return GaussianScene.concat([scene, copy])


def insert(scene: GaussianScene, other: GaussianScene) -> GaussianScene:
    return GaussianScene.concat([scene, other])


def highlighted(scene: GaussianScene, mask: Tensor, color=(1.0, 0.78, 0.1), amount: float = 0.65) -> GaussianScene:
    """A copy for display: the selection tinted towards `color`, everything else dimmed."""
    rgb = sh0_to_rgb(scene.sh[:, 0]).clamp(0, 1)
    rgb = torch.where(mask[:, None], rgb * (1 - amount) + torch.as_tensor(color) * amount, rgb * 0.55)
    sh = scene.sh[:, :1].clone()
    sh[:, 0] = rgb_to_sh0(rgb)
    return replace(scene, sh=sh)


# ---- masks in the log -------------------------------------------------------------------------------
def pack_mask(mask: Tensor) -> str:
    bits = np.packbits(mask.cpu().numpy().astype(bool))
    return base64.b64encode(zlib.compress(bits.tobytes(), 6)).decode()


def unpack_mask(text: str, n: int) -> Tensor:
    try:
        raw = zlib.decompressobj().decompress(base64.b64decode(text, validate=True), (n + 7) // 8 + 1)
    except (ValueError, zlib.error) as e:
        raise EditError(f"edit mask is not valid packed bits: {e}") from None
    if len(raw) != (n + 7) // 8:
        raise EditError(f"edit mask holds {len(raw) * 8} bits, the scene has {n} Gaussians")
    return torch.from_numpy(np.unpackbits(np.frombuffer(raw, np.uint8))[:n].astype(bool))


def _insert_payload(other: GaussianScene) -> dict:
    def raw(name: str) -> bytes:  # float32 / int64 whatever the scene's dtype, as _insert_scene reads them
        v = getattr(other, name).detach().cpu().to(torch.int64 if name == "labels" else torch.float32)
        return v.contiguous().numpy().tobytes()

    return {name: base64.b64encode(zlib.compress(raw(name), 6))
            .decode() for name in ("means", "quats", "log_scales", "opacity_logits", "sh", "labels")} | {
        "n": len(other), "sh_bases": other.sh.shape[1]}


def _insert_scene(payload: dict) -> GaussianScene:
    n, k = payload["n"], payload["sh_bases"]
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (n, k))
    if not ints or not 0 < n <= MAX_INSERT or k not in (1, 4, 9, 16):
        raise EditError(f"insert payload: n must be an integer in [1, {MAX_INSERT}] and sh_bases one of 1, 4, 9, 16, "
                        f"got {n!r}, {k!r}"[:200])
    shapes = {"means": (n, 3), "quats": (n, 4), "log_scales": (n, 3), "opacity_logits": (n,), "sh": (n, k, 3),
              "labels": (n,)}
    out = {}
    for name, shape in shapes.items():
        dtype = np.int64 if name == "labels" else np.float32
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        try:
            raw = zlib.decompressobj().decompress(base64.b64decode(payload[name], validate=True), size + 1)
        except (ValueError, zlib.error) as e:
            raise EditError(f"insert payload {name} is not valid compressed data: {e}") from None
        if len(raw) != size:
            raise EditError(f"insert payload {name}: {len(raw)} bytes, expected {size}")
        out[name] = torch.from_numpy(np.frombuffer(raw, dtype).reshape(shape).copy())
    return GaussianScene(**out).validate()


# ---- history -----------------------------------------------------------------------------------------
@dataclass
class EditState:
    scene: GaussianScene
    instances: Tensor  # [N] int64, -1 for none


def _next_ids(instances: Tensor, picked: Tensor) -> Tensor:
    """New instance ids for copies of `picked` (one new id per distinct source id, -1 stays -1)."""
    start = int(instances.max()) + 1 if len(instances) else 0
    src = torch.unique(picked[picked >= 0])
    table = {int(s): start + i for i, s in enumerate(src)}
    return torch.tensor([table.get(int(v), -1) for v in picked.tolist()], dtype=torch.int64) if len(picked) else picked


def apply_edit(state: EditState, record: dict) -> EditState:
    """One logged edit ({"op", "mask", params...}) applied to a state; the log's exact replay."""
    scene, inst = state.scene, state.instances
    op = record.get("op")
    if op not in OPS:
        raise EditError(f"unknown edit operation {op!r}; known: {', '.join(OPS)}")
    if op == "insert":
        other = _insert_scene(record["payload"])
        ids = torch.full((len(other),), int(inst.max()) + 1 if len(inst) else 0, dtype=torch.int64)
        return EditState(insert(scene, other), torch.cat([inst, ids]))
    mask = unpack_mask(record["mask"], len(scene))
    if not mask.any():
        raise EditError(f"{op}: the selection is empty")
    if op == "replace":  # the new Gaussians take the instance id of the region when it was one object
        other = _insert_scene(record["payload"])
        kept = torch.unique(inst[mask])
        new_id = int(kept[0]) if len(kept) == 1 else -1
        return EditState(insert(delete(scene, mask), other),
                         torch.cat([inst[~mask], torch.full((len(other),), new_id, dtype=torch.int64)]))
    p = record.get("params") or {}
    try:
        if op == "recolor":
            return EditState(recolor(scene, mask, **p), inst)
        if op == "delete":
            return EditState(delete(scene, mask), inst[~mask])
        if op == "transform":
            return EditState(transform(scene, mask, **p), inst)
        return EditState(duplicate(scene, mask, **p), torch.cat([inst, _next_ids(inst, inst[mask])]))
    except TypeError as e:  # unknown or missing parameters
        raise EditError(f"{op}: bad parameters {sorted(p)}: {e}") from None


def _log_value(v):
    if isinstance(v, (Tensor, np.ndarray, np.generic)) and np.ndim(v) == 0:
        return v.item()
    if isinstance(v, (list, tuple, Tensor, np.ndarray)):
        return list(map(float, v))
    return v


class EditHistory:
    """Edits on a base scene with undo and redo.

    `apply(op, mask, **params)` applies one; `undo()` / `redo()` step through the history (a new
    edit after an undo drops the undone ones). States are cached for the last `keep` steps; an
    older one is rebuilt by replaying the log from the nearest cached state."""

    def __init__(self, base: GaussianScene, instances: Tensor | None = None, keep: int = 8):
        if instances is None:
            instances = torch.full((len(base),), -1, dtype=torch.int64)
        if instances.shape != (len(base),):
            raise EditError(f"instances must be [{len(base)}], got {list(instances.shape)}")
        self.log: list[dict] = []
        self.done = 0  # edits in effect: log[:done]; log[done:] can be redone
        self.keep = max(1, keep)
        self._states: dict[int, EditState] = {0: EditState(base, instances.long())}

    # state ---------------------------------------------------------------------------------------
    def state(self, step: int | None = None) -> EditState:
        step = self.done if step is None else step
        if step not in self._states:
            start = max(k for k in self._states if k <= step)
            state = self._states[start]
            for i in range(start, step):
                state = apply_edit(state, self.log[i])
            self._remember(step, state)
        return self._states[step]

    @property
    def scene(self) -> GaussianScene:
        return self.state().scene

    @property
    def instances(self) -> Tensor:
        return self.state().instances

    @property
    def base(self) -> GaussianScene:
        return self._states[0].scene

    def _remember(self, step: int, state: EditState) -> None:
        self._states[step] = state
        for k in sorted(k for k in self._states if k not in (0, step)):
            if len(self._states) <= self.keep + 1:
                break
            del self._states[k]

    # editing -------------------------------------------------------------------------------------
    def apply(self, op: str, mask: Tensor | None = None, *, description: str = "", other: GaussianScene | None = None,
              **params) -> GaussianScene:
        """Apply one edit to the current scene and return the new scene. `mask` [N] bool selects
        (every op but insert); `other` is the scene that insert and replace add."""
        if self.done >= MAX_EDITS:
            raise EditError(f"the history holds {MAX_EDITS} edits, the most it keeps")
        record: dict = {"op": op, "description": description[:500]}
        if op in ("insert", "replace"):
            if not isinstance(other, GaussianScene) or len(other) == 0:
                raise EditError(f"{op} needs a non-empty scene to insert")
            record["payload"] = _insert_payload(other)
        if op != "insert":
            cur = self.scene
            if mask is None or mask.dtype != torch.bool or mask.shape != (len(cur),):
                raise EditError(f"{op} needs a bool selection mask of shape [{len(cur)}]")
            record["mask"] = pack_mask(mask)
            try:  # plain JSON values, so the log saves and replays as applied
                record["params"] = {k: _log_value(v) for k, v in params.items()}
                json.dumps(record["params"], allow_nan=False)
            except (TypeError, ValueError, RuntimeError) as e:
                raise EditError(f"{op}: parameters must be numbers, lists of numbers, strings or booleans: {e}"[:300]) \
                    from None
            record["selected"] = int(mask.sum())
        state = apply_edit(self.state(), record)
        del self.log[self.done:]
        for k in [k for k in self._states if k > self.done]:
            del self._states[k]
        self.log.append(record)
        self.done += 1
        self._remember(self.done, state)
        return state.scene

    def undo(self) -> GaussianScene:
        if self.done == 0:
            raise EditError("nothing to undo")
        self.done -= 1
        return self.scene

    def redo(self) -> GaussianScene:
        if self.done == len(self.log):
            raise EditError("nothing to redo")
        self.done += 1
        return self.scene

    @property
    def can_undo(self) -> bool:
        return self.done > 0

    @property
    def can_redo(self) -> bool:
        return self.done < len(self.log)

    # persistence -------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"version": 1, "done": self.done, "edits": self.log}

    @classmethod
    def from_dict(cls, data, base: GaussianScene, instances: Tensor | None = None, source: str = "edits") -> "EditHistory":
        """Rebuild a history from `to_dict()`'s form; every edit is replayed and checked."""
        if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("edits"), list):
            raise EditError(f"{source}: not a version 1 edit history")
        edits, done = data["edits"], data.get("done")
        if len(edits) > MAX_EDITS or not isinstance(done, int) or isinstance(done, bool) or not 0 <= done <= len(edits):
            raise EditError(f"{source}: 'done' must be an integer in [0, {len(edits)}] and at most {MAX_EDITS} edits")
        history = cls(base, instances)
        state = history.state(0)
        try:
            for i, record in enumerate(edits):
                if not isinstance(record, dict):
                    raise EditError(f"edit {i} is not an object")
                state = apply_edit(state, record)
                history.log.append(record)
                if i + 1 == done or i + 1 == len(edits):
                    history._remember(i + 1, state)
        except (EditError, KeyError, TypeError, ValueError) as e:
            raise EditError(f"{source}: edit {len(history.log)} cannot be replayed: {e}") from None
        history.done = done
        return history
