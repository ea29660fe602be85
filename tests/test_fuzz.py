"""Property-based fuzzing of the readers of user files (hypothesis).

Each reader gets mutations of a valid file of its kind (bytes flipped, cut, repeated, inserted;
JSON values swapped for hostile ones) and must either read it or raise a WorldgenError subclass:
never another exception, never a hang (pytest-timeout), never unbounded memory (sizes come from
the readers' own limits). WORLDGEN_FUZZ_EXAMPLES sets the inputs per reader (docs/RELIABILITY.md
records a run at 10,000); the default keeps the suite quick. The count tried per reader is printed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from renderer import GaussianScene, load_scene, save_scene  # noqa: E402
from renderer.errors import WorldgenError  # noqa: E402
from renderer.layout import Layout, VoxelGrid  # noqa: E402

EXAMPLES = int(os.environ.get("WORLDGEN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TRIED: dict[str, int] = {}

# JSON values a hostile file puts where a number, string, list or object belongs.
HOSTILE = st.sampled_from([None, True, False, 0, -1, 2**63, -(2**70), 1e308, -1e-320, "", "x" * 5000, "../../etc/passwd",
                           "/dev/zero", "\u0000", [], [[[[]]]], {}, {"a": {"b": {}}}, [1, 2], [1e308] * 3, "NaN"])
JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                     st.text(max_size=20)),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


def _count(name: str) -> None:
    TRIED[name] = TRIED.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print("\nfuzzed inputs per reader: " + ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())))


def mutate(data: bytes, ops) -> bytes:
    """Apply (kind, position, value) mutations to a byte string."""
    b = bytearray(data)
    for kind, pos, value in ops:
        i = pos % (len(b) + 1)
        if kind == "flip" and b:
            b[i % len(b)] ^= 1 << (value % 8)
        elif kind == "set" and b:
            b[i % len(b)] = value % 256
        elif kind == "cut":
            del b[i:]
        elif kind == "insert":
            b[i:i] = bytes([value % 256]) * (1 + value % 64)
        elif kind == "repeat":
            b[i:i] = b[max(0, i - 32):i] * (1 + value % 8)
    return bytes(b)


BYTE_OPS = st.lists(st.tuples(st.sampled_from(["flip", "set", "cut", "insert", "repeat"]), st.integers(0, 1 << 20),
                              st.integers(0, 1 << 16)), min_size=1, max_size=6)


def _reads_or_refuses(read, path) -> None:
    try:
        read(path)
    except WorldgenError:
        pass


def _scene() -> GaussianScene:
    g = torch.Generator().manual_seed(0)
    return GaussianScene.from_points(torch.rand(40, 3, generator=g), torch.rand(40, 3, generator=g), scale=0.05,
                                     opacity=0.7, labels=torch.randint(0, 30, (40,), generator=g))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """One valid file of each kind, as bytes."""
    d = tmp_path_factory.mktemp("seeds")
    out = {}
    for ext in ("ply", "splat", "spz"):
        save_scene(_scene().with_sh_degree(1) if ext == "ply" else _scene(), d / f"s.{ext}")
        out[ext] = (d / f"s.{ext}").read_bytes()
    from worldgen.procgen.text_rules import layout_from_prompt

    layout, _ = layout_from_prompt("a bedroom with a blue bed, two lamps and a red hammock", seed=0)
    out["layout"] = layout.to_dict()
    grid = np.zeros((6, 5, 4), np.int32)
    grid[1:3, 1:3, 0:2] = 1
    VoxelGrid(grid, {1: {"label": "bed", "color": "#3355aa"}}, 0.5, (-1.5, -1.25, 0.0)).save(d / "v.npy")
    out["npy"], out["npy json"] = (d / "v.npy").read_bytes(), (d / "v.json").read_text()
    return out


@pytest.mark.timeout(600)
@pytest.mark.parametrize("ext", ["ply", "splat", "spz"])
def test_splat_readers_read_or_refuse_mutated_files(seeds, tmp_path, ext):
    path = tmp_path / f"m.{ext}"

    @FUZZ
    @given(ops=BYTE_OPS)
    def run(ops):
        _count(ext)
        path.write_bytes(mutate(seeds[ext], ops))
        _reads_or_refuses(load_scene, path)

    run()


def _json_mutations(value, draw_paths):
    """Replace values at some paths of a JSON document with hostile ones."""
    doc = json.loads(json.dumps(value))
    for path, new in draw_paths:
        new = json.loads(json.dumps(new))  # a fresh copy: the sampled values are shared objects
        node = doc
        for step in path[:-1]:
            if isinstance(node, dict) and node:
                node = node[sorted(node)[step % len(node)]]
            elif isinstance(node, list) and node:
                node = node[step % len(node)]
        if isinstance(node, dict) and node:
            node[sorted(node)[path[-1] % len(node)]] = new
        elif isinstance(node, list) and node:
            node[path[-1] % len(node)] = new
    return doc


JSON_EDITS = st.lists(st.tuples(st.lists(st.integers(0, 64), min_size=1, max_size=4), HOSTILE | JSON_VALUES),
                      min_size=1, max_size=5)


@pytest.mark.timeout(600)
def test_layout_reader_reads_or_refuses_mutated_layouts(seeds, tmp_path):
    path = tmp_path / "layout.json"

    @FUZZ
    @given(edits=JSON_EDITS, ops=st.none() | BYTE_OPS)
    def run(edits, ops):
        _count("layout json")
        text = json.dumps(_json_mutations(seeds["layout"], edits)).encode()
        path.write_bytes(text if ops is None else mutate(text, ops))
        _reads_or_refuses(Layout.load, path)

    run()


@pytest.mark.timeout(600)
def test_voxel_reader_reads_or_refuses_mutated_grids(seeds, tmp_path):
    path = tmp_path / "v.npy"
    path.with_suffix(".json").write_text(seeds["npy json"])

    @FUZZ
    @given(ops=BYTE_OPS)
    def run(ops):
        _count("voxel npy")
        path.write_bytes(mutate(seeds["npy"], ops))
        _reads_or_refuses(VoxelGrid.load, path)

    run()


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    import worldgen

    world = worldgen.generate("a bedroom with a bed", seed=0, frames=8, resolution=32, lift_steps=2, progress=False,
                              engine="rules", flythrough=False, complete=False)
    return world.save(tmp_path_factory.mktemp("w") / "world")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("which", ["world", "frames"])
def test_world_and_frames_readers_read_or_refuse_mutated_manifests(tiny_world, tmp_path, which):
    from worldgen.frames import read_transforms
    from worldgen.world import load_world

    folder = Path(shutil.copytree(tiny_world, tmp_path / "world"))
    manifest = json.loads((folder / "world.json").read_text())
    transforms = json.loads((folder / "frames" / "transforms.json").read_text())

    @FUZZ
    @given(edits=JSON_EDITS)
    def run(edits):
        _count(f"{which} json")
        if which == "world":
            (folder / "world.json").write_text(json.dumps(_json_mutations(manifest, edits)))
            try:
                world = load_world(folder)
                world.layout, world.scene, world.cameras, world.metrics  # noqa: B018 - what a world reads on use
            except WorldgenError:
                pass
        else:
            (folder / "frames" / "transforms.json").write_text(json.dumps(_json_mutations(transforms, edits)))
            _reads_or_refuses(read_transforms, folder / "frames")

    run()


@pytest.mark.timeout(600)
def test_batch_reader_reads_or_refuses_mutated_jobs(tmp_path):
    from worldgen.batch import read_jobs

    path = tmp_path / "jobs.jsonl"
    valid = [{"id": "a", "prompt": "a bedroom", "seed": 1}, {"id": "b", "prompt": "a park", "frames": 8, "lift_steps": 2}]

    @FUZZ
    @given(edits=JSON_EDITS, ops=st.none() | BYTE_OPS)
    def run(edits, ops):
        _count("batch jsonl")
        lines = [json.dumps(_json_mutations(job, edits)) for job in valid]
        text = "\n".join(lines).encode()
        path.write_bytes(text if ops is None else mutate(text, ops))
        _reads_or_refuses(read_jobs, path)

    run()


@pytest.mark.timeout(60)
def test_special_files_are_refused_without_hanging(tmp_path, seeds):
    """A FIFO, a device (a symlink to /dev/zero) or a folder in place of any file: a clear error at once."""
    from worldgen.batch import read_jobs
    from worldgen.world import load_world

    fifo, zero = tmp_path / "fifo", tmp_path / "zero"
    os.mkfifo(fifo)
    os.symlink("/dev/zero", zero)
    for name in ("s.ply", "s.splat", "s.spz", "layout.json", "v.npy", "jobs.jsonl"):
        for special in (fifo, zero, tmp_path):
            link = tmp_path / "links" / name
            link.parent.mkdir(exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(special)
            read = {"layout.json": Layout.load, "v.npy": VoxelGrid.load, "jobs.jsonl": read_jobs}.get(name, load_scene)
            with pytest.raises(WorldgenError, match="not a regular file"):
                read(link)
    world = tmp_path / "world"
    world.mkdir()
    (world / "world.json").symlink_to(fifo)
    with pytest.raises(WorldgenError, match="named pipe"):
        load_world(world)


def test_json_limits_and_npy_headers(tmp_path):
    from renderer.formats.base import read_json, read_npy
    from renderer.errors import InputFileError

    cases = {"deep": "[" * 10_000 + "]" * 10_000, "long number": '{"a": ' + "9" * 5000 + "}", "nan": '{"a": NaN}',
             "overflow": '{"a": 1e999}', "not utf-8": b"\xff\xfe{}"}
    for name, text in cases.items():
        path = tmp_path / "c.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        with pytest.raises(InputFileError):
            read_json(path, InputFileError)
    ok = tmp_path / "ok.json"
    ok.write_text('{"a": [1, 2.5, "x]]]]{{"], "b": {"c": null}}')
    assert read_json(ok, InputFileError) == {"a": [1, 2.5, "x]]]]{{"], "b": {"c": None}}
    np.save(tmp_path / "a.npy", np.arange(12, dtype=np.int32).reshape(3, 4))
    good = (tmp_path / "a.npy").read_bytes()
    broken = {"tokenize": good.replace(b"'descr'", b"'descr"), "object": np.lib.format.header_data_from_array_1_0,
              "truncated": good[:-8], "huge": good.replace(b"(3, 4)", b"(3000000000, 4000000)")}
    for name, data in broken.items():
        path = tmp_path / f"{name}.npy"
        if name == "object":
            np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        else:
            path.write_bytes(data)
        with pytest.raises(InputFileError):
            read_npy(path, InputFileError)
    assert read_npy(tmp_path / "a.npy", InputFileError).tolist() == np.arange(12).reshape(3, 4).tolist()


# ---- images, video, COLMAP, checkpoints -------------------------------------------------------------
@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A PNG, a 16-bit PNG, a JPEG with EXIF, an mp4 and a COLMAP text model, as bytes."""
    from PIL import Image

    d = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(d / "a.png")
    Image.fromarray((rng.integers(0, 65535, (24, 32))).astype(np.uint16)).save(d / "b.png")
    exif = Image.Exif()
    exif[0x920A], exif[0xA405] = 4.2, 28  # focal length, 35 mm equivalent
    Image.fromarray(rgb).save(d / "c.jpg", exif=exif)
    from worldgen.flythrough import video_bytes

    out = {"png": (d / "a.png").read_bytes(), "png16": (d / "b.png").read_bytes(), "jpg": (d / "c.jpg").read_bytes(),
           "mp4": video_bytes(rng.integers(0, 255, (6, 32, 32, 3), dtype=np.uint8), "mp4", 6)}
    out["cameras.txt"] = "# cameras\n1 OPENCV 32 24 30.0 30.0 16.0 12.0 0.01 -0.002 0.0 0.0\n2 PINHOLE 32 24 28 28 16 12\n"
    out["images.txt"] = ("# images\n1 1 0 0 0 0 0 0 1 im0.png\n10.5 11.5 -1 3 4 7\n"
                         "2 0.995 0 0.0998 0 0.2 0 0 2 im1.png\n\n")
    out["rgb"] = rgb
    return out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", ["png", "png16", "jpg"])
def test_image_reader_reads_or_refuses_mutated_images(media, tmp_path, kind):
    from worldgen.images import read_image

    path = tmp_path / ("m.jpg" if kind == "jpg" else "m.png")

    @FUZZ
    @given(ops=BYTE_OPS)
    def run(ops):
        _count(f"image {kind}")
        path.write_bytes(mutate(media[kind], ops))
        _reads_or_refuses(lambda p: read_image(p, 64), path)

    run()


@pytest.mark.timeout(1800)
def test_video_reader_reads_or_refuses_mutated_videos(media, tmp_path):
    from worldgen.video import read_video

    path = tmp_path / "m.mp4"

    @FUZZ
    @given(ops=BYTE_OPS)
    def run(ops):
        _count("video mp4")
        path.write_bytes(mutate(media["mp4"], ops))
        _reads_or_refuses(lambda p: read_video(p, max_frames=8, size=32), path)

    run()


@pytest.mark.timeout(900)
def test_colmap_reader_reads_or_refuses_mutated_models(media, tmp_path):
    from PIL import Image

    from worldgen.frames import read_colmap

    (tmp_path / "images").mkdir()
    for name in ("im0.png", "im1.png"):
        Image.fromarray(media["rgb"]).save(tmp_path / "images" / name)
    tokens = st.sampled_from(["nan", "inf", "-1", "0", "1e308", "99999999999", "../../x.png", "SIMPLE_RADIAL", "", "#", "\n"])

    @FUZZ
    @given(which=st.sampled_from(["cameras.txt", "images.txt"]), ops=st.none() | BYTE_OPS,
           swaps=st.lists(st.tuples(st.integers(0, 200), tokens), max_size=4))
    def run(which, ops, swaps):
        _count("colmap text")
        words = media[which].split(" ")
        for i, token in swaps:
            words[i % len(words)] = token
        text = " ".join(words).encode()
        other = "images.txt" if which == "cameras.txt" else "cameras.txt"
        (tmp_path / which).write_bytes(text if ops is None else mutate(text, ops))
        (tmp_path / other).write_text(media[other])
        _reads_or_refuses(lambda p: read_colmap(p, p / "images"), tmp_path)

    run()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A micro frame model and a micro language model, saved the way the project saves them."""
    from rtfm.checkpoint import save_frame_model
    from rtfm.frame_model import FrameModel
    from rtfm.language import Grok, GrokConfig, save_pretrained

    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    save_frame_model(FrameModel(resolution=32, dim=32, depth=1, heads=2, encoder_depth=1, refine_channels=8, image_size=32,
                                image_patch=8, layout_grid=(8, 8, 4), text_dim=16, max_memory=2), d / "frame")
    save_pretrained(Grok(GrokConfig(vocab_size=64, d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, n_experts=2, top_k=1,
                                    ffn_dim=32, max_seq_len=32)), d / "lm")
    return d


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("which", ["frame", "lm"])
def test_checkpoint_loaders_read_or_refuse_mutated_checkpoints(checkpoints, tmp_path, which):
    from rtfm.checkpoint import load_frame_model
    from rtfm.language import from_pretrained

    folder = Path(shutil.copytree(checkpoints / which, tmp_path / which))
    config = json.loads((folder / "config.json").read_text())
    weights_name = next(p.name for p in folder.glob("*.safetensors"))
    weights = (checkpoints / which / weights_name).read_bytes()
    load = load_frame_model if which == "frame" else from_pretrained

    @FUZZ
    @given(edits=JSON_EDITS, ops=st.none() | BYTE_OPS, target=st.sampled_from(["config", "weights"]))
    def run(edits, ops, target):
        _count(f"checkpoint {which}")
        if target == "config":
            (folder / weights_name).write_bytes(weights)
            text = json.dumps(_json_mutations(config, edits)).encode()
            (folder / "config.json").write_bytes(text if ops is None else mutate(text, ops))
        else:
            (folder / "config.json").write_text(json.dumps(config))
            (folder / weights_name).write_bytes(mutate(weights, ops or [("flip", 100, 3)]))
        _reads_or_refuses(load, folder)

    run()
