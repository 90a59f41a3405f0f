import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgfinder.core.decoder import DecodeError, decode_for_model, open_image


def save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def gradient(w: int, h: int) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], axis=-1).astype(np.uint8))


@pytest.mark.parametrize("mode", ["P", "RGBA", "LA", "L", "CMYK", "I;16", "1", "I", "F"])
def test_every_mode_becomes_rgb(tmp_path: Path, mode: str) -> None:
    img = gradient(120, 80).convert(mode) if mode not in ("I;16", "I", "F") else Image.fromarray(
        (np.arange(120 * 80).reshape(80, 120) % 60000).astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode])
    )
    fmt = {"CMYK": "JPEG", "I;16": "PNG", "F": "TIFF", "I": "TIFF"}.get(mode, "PNG")
    path = save(img, tmp_path / f"x.{fmt.lower()}", format=fmt)
    out = decode_for_model(str(path), 32)
    assert out.pixels.shape == (32, 32, 3) and out.pixels.dtype == np.uint8
    assert (out.width, out.height) == (120, 80)


def test_transparency_flattened_on_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    out = decode_for_model(str(save(img, tmp_path / "t.png")), 16)
    assert out.pixels.min() == 255  # fully transparent red shows as white


def test_exif_orientation_applied(tmp_path: Path) -> None:
    img = gradient(200, 100)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    path = save(img, tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    out = decode_for_model(str(path), 50)
    assert (out.width, out.height) == (100, 200)
    plain = np.asarray(img.transpose(Image.Transpose.ROTATE_270).resize((50, 50)), dtype=np.float32)
    assert np.abs(out.pixels.astype(np.float32) - plain).mean() < 12


def test_jpeg_draft_gives_same_picture(tmp_path: Path) -> None:
    path = save(gradient(2400, 1600), tmp_path / "big.jpg", quality=90)
    data = path.read_bytes()
    img, w, h = open_image(data, min_side=224)
    assert (w, h) == (2400, 1600)
    assert img.size[0] < 2400 and min(img.size) >= 224  # decoded at reduced scale
    full = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224)), dtype=np.float32)
    out = decode_for_model(str(path), 224)
    assert np.abs(out.pixels.astype(np.float32) - full).mean() < 4


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
    ],
)
def test_bad_files_give_reasons(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(DecodeError) as err:
        decode_for_model(str(path), 32)
    assert reason in err.value.reason


def test_truncated_jpeg(tmp_path: Path) -> None:
    full = save(gradient(800, 600), tmp_path / "full.jpg", quality=90).read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(full[: len(full) // 3])
    with pytest.raises(DecodeError) as err:
        decode_for_model(str(path), 32)
    assert "truncated" in err.value.reason or "corrupt" in err.value.reason


def test_vanished_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="vanished"):
        decode_for_model(str(tmp_path / "gone.jpg"), 32)
    with pytest.raises(DecodeError, match="folder"):
        decode_for_model(str(tmp_path), 32)


def test_decompression_bomb_refused(tmp_path: Path) -> None:
    # A PNG header claiming 40000 x 40000 pixels: refused from the header alone.
    img = Image.new("1", (40000, 10000))
    path = save(img, tmp_path / "bomb.png")
    with pytest.raises(DecodeError, match="too large"):
        decode_for_model(str(path), 32)


def test_same_bytes_same_hash(tmp_path: Path) -> None:
    a = save(gradient(50, 50), tmp_path / "a.png")
    b = tmp_path / "b.png"
    b.write_bytes(a.read_bytes())
    assert decode_for_model(str(a), 16).content_hash == decode_for_model(str(b), 16).content_hash
