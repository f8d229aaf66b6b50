"""Hostile files for the break-it probe: images, conversation zips, a tmpfs to fill."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

from PIL import Image

_MOUNTS: list[Path] = []


# -- images -----------------------------------------------------------------------------


def png(size=(64, 64), colour=(200, 40, 40), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


SCENE = "a small red circle on the left and a large blue square on the right, on a green background"


def scene_png() -> bytes:
    """The example scene the app offers (its caption is SCENE)."""
    path = Path(__file__).resolve().parents[1] / "examples" / "toy_scene.png"
    return path.read_bytes()


def huge_header_png(w=100_000, h=100_000) -> bytes:
    """A valid PNG signature and IHDR claiming w x h, then a tiny IDAT: a decompression bomb
    by its header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def animated_gif() -> bytes:
    frames = [Image.new("P", (32, 32), i * 40) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def png16() -> bytes:
    img = Image.new("I;16", (48, 32))
    img.putdata([(x * 1300) % 65535 for x in range(48 * 32)])
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def cmyk_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("CMYK", (40, 24), (0, 200, 200, 0)).save(buf, "JPEG")
    return buf.getvalue()


def exif_rotated_jpeg() -> bytes:
    """A 60x20 JPEG whose EXIF says 'rotate 90 degrees' (orientation 6): shown 20x60."""
    img = Image.new("RGB", (60, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def float_tiff() -> bytes:
    img = Image.new("F", (16, 16), 1e30)
    buf = io.BytesIO()
    img.save(buf, "TIFF")
    return buf.getvalue()


def ztxt_bomb_png() -> bytes:
    """A small PNG with a compressed text chunk that inflates to 300 MB."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "A" * 300_000_000, zip=True)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


# -- conversation zips ------------------------------------------------------------------


def read_zip(data: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        doc = json.loads(zf.read("conversation.json"))
        blobs = {n: zf.read(n) for n in zf.namelist() if n != "conversation.json"}
    return doc, blobs


def make_zip(doc, blobs: dict[str, bytes], extra=(), raw_manifest: bytes | None = None) -> bytes:
    """A zip of conversation.json (doc, or raw bytes) and blobs; `extra`: (ZipInfo or name,
    bytes) entries added as they are."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        manifest = raw_manifest if raw_manifest is not None else json.dumps(doc).encode()
        zf.writestr("conversation.json", manifest)
        for name, data in blobs.items():
            zf.writestr(name, data)
        for info, data in extra:
            zf.writestr(info, data)
    return buf.getvalue()


def symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def bomb_entry(name: str, size: int) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info, b"\0" * size


def patch_compression(data: bytes, name: str, method: int) -> bytes:
    """The zip with entry `name`'s compression method set to `method` (an unknown one)."""
    raw = bytearray(data)
    key = name.encode()
    pos = 0
    while True:
        pos = raw.find(key, pos)
        if pos < 0:
            return bytes(raw)
        if raw[pos - 30:pos - 26] == b"PK\x03\x04":
            raw[pos - 22:pos - 20] = struct.pack("<H", method)
        elif raw[pos - 46:pos - 42] == b"PK\x01\x02":
            raw[pos - 36:pos - 34] = struct.pack("<H", method)
        pos += 1


def encrypted_flag(data: bytes) -> bytes:
    """The zip with every entry flagged as encrypted (general purpose bit 0)."""
    raw = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = 0
        while (pos := raw.find(sig, pos)) >= 0:
            flags = struct.unpack("<H", raw[pos + off:pos + off + 2])[0] | 1
            raw[pos + off:pos + off + 2] = struct.pack("<H", flags)
            pos += 4
    return bytes(raw)


# -- a small disk -----------------------------------------------------------------------


def mount_tmpfs(where: Path, size: str = "4m") -> bool:
    """A tmpfs of `size` at `where` (False where this process may not mount)."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                           capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    if r.returncode == 0:
        _MOUNTS.append(where)
    return r.returncode == 0


def bind_read_only(src: Path, where: Path) -> bool:
    """`src` seen read-only at `where` (a bind mount)."""
    where.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "--bind", str(src), str(where)], capture_output=True, check=False).returncode:
        return False
    _MOUNTS.append(where)
    return subprocess.run(["mount", "-o", "remount,ro,bind", str(where)],
                          capture_output=True, check=False).returncode == 0


def unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)
    if where in _MOUNTS:
        _MOUNTS.remove(where)


def fill(where: Path) -> None:
    """Fill the disk holding `where` to the last byte."""
    with open(where / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    try:
        with open(where / "filler2", "wb") as f:
            while True:
                f.write(b"\0" * 512)
                f.flush()
    except OSError:
        pass


def unmount_all() -> None:
    while _MOUNTS:
        where = _MOUNTS.pop()
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def env_without(*keys: str) -> dict:
    return {k: v for k, v in os.environ.items() if k not in keys}
