import io
import math
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from worldgen.images import ImageError, read_image


def save(tmp_path, name, im: Image.Image, **kw):
    path = tmp_path / name
    im.save(path, **kw)
    return path


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "I;16", "I", "F", "CMYK", "1"])
def test_every_mode_becomes_rgb_in_unit_range(tmp_path, mode):
    rng = np.random.default_rng(0)
    base = Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8))
    if mode == "I;16":
        im = Image.fromarray((rng.random((30, 40)) * 65535).astype(np.uint16))
    elif mode == "F":
        im = Image.fromarray(rng.random((30, 40)).astype(np.float32))
    elif mode == "P":
        im = base.convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        im = base.convert(mode)
    ext = {"CMYK": "test.jpg", "F": "test.tiff", "I": "test.tiff"}.get(mode, "test.png")
    rgb, scale, fov = read_image(save(tmp_path, ext, im))
    assert rgb.shape == (30, 40, 3) and rgb.dtype == np.float32
    assert 0 <= rgb.min() and rgb.max() <= 1 and rgb.std() > 0.05  # 16-bit data is scaled, not clipped to white
    assert scale == 1.0 and fov is None


def test_transparent_pixels_are_white(tmp_path):
    im = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    rgb, _, _ = read_image(save(tmp_path, "a.png", im))
    assert np.allclose(rgb, 1.0)


def test_big_images_are_downscaled(tmp_path):
    im = Image.new("RGB", (10_000, 10_000), (10, 200, 30))
    path = save(tmp_path, "big.jpg", im, quality=50)
    rgb, scale, _ = read_image(path, max_side=512)
    assert rgb.shape == (512, 512, 3) and scale == pytest.approx(512 / 10_000)
    assert np.allclose(rgb[256, 256], np.array([10, 200, 30]) / 255, atol=0.05)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with almost no data (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_decompression_bombs_corrupt_and_missing_files_are_refused(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(60_000, 60_000))
    with pytest.raises(ImageError, match="bomb"):
        read_image(bomb)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff" + b"\x00garbage" * 50)
    with pytest.raises(ImageError, match="junk.jpg"):
        read_image(junk)
    truncated = tmp_path / "cut.png"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    truncated.write_bytes(buf.getvalue()[:60])
    with pytest.raises(ImageError, match="cut.png"):
        read_image(truncated)
    with pytest.raises(ImageError, match="no such image"):
        read_image(tmp_path / "absent.png")


def test_exif_focal_length_gives_the_field_of_view(tmp_path):
    im = Image.new("RGB", (600, 400), (0, 0, 0))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 24  # FocalLengthIn35mmFilm: a 24 mm equivalent
    path = save(tmp_path, "e.jpg", im, exif=exif)
    _, _, fov = read_image(path)
    diag = math.hypot(600, 400)
    assert fov == pytest.approx(math.degrees(2 * math.atan(43.27 / 2 / 24 * 400 / diag)), rel=1e-6)


@pytest.mark.parametrize("f35", [1500, 5, "nonsense"])
def test_exif_that_lies_or_is_garbage_gives_no_field_of_view(tmp_path, f35):
    """1500 mm on a phone photo (fov 0.9 deg), 5 mm (fov 140 deg) or a string: refused, not used."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = f35
    path = save(tmp_path, "lie.jpg", Image.new("RGB", (600, 400), (0, 0, 0)), exif=exif)
    assert read_image(path)[2] is None
    assert read_image(save(tmp_path, "none.jpg", Image.new("RGB", (60, 40))))[2] is None  # no EXIF at all
