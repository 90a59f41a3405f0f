"""Helpers of the bad-input, symlink and decode-memory tests: small real photos, a
fingerprint of a folder that never opens what it must not (FIFOs, sockets, links), and
an indexing run in a child process (a hang is a timeout, not a stuck test run).

Run as a script, this is that child: ``python _photos.py DATA_DIR ROOT [--hooks]`` indexes
ROOT with the tests' fake embedder and prints the summary and the catalog as JSON. With
``--hooks`` it also plays the races of a live folder: ``vanish.jpg`` is deleted and
``changing.jpg`` rewritten after the scan listed them, and ``written_while_read.jpg`` is
appended to while it is being read.

When the child runs as root, it first drops the capabilities that let root read any file
(Linux), so a file without read permission is unreadable as it is for a user.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
REPO = TESTS.parent


def _drop_read_anything() -> bool:
    """Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from this (root) process: file
    permissions then apply to it. Must run before any thread starts. True if done."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    libc = ctypes.CDLL(None, use_errno=True)
    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        return False
    mask = ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    data[0].effective &= mask
    data[0].permitted &= mask
    data[0].inheritable &= mask
    return libc.capset(ctypes.byref(header), data) == 0


def tree_fingerprint(root: Path) -> dict[bytes, str]:
    """path (bytes, relative) -> sha256 of a regular file's bytes, a symlink's target, or
    the kind of anything else. FIFOs, sockets and links are never opened."""
    out: dict[bytes, str] = {}
    base = os.fsencode(root)
    for folder, dirs, files in os.walk(base, followlinks=False):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, base)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "link:" + os.fsdecode(os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
                out[rel] = f"{digest.hexdigest()} {st.st_mode:o} {st.st_mtime_ns}"
            else:
                out[rel] = f"kind {stat.S_IFMT(st.st_mode):o}"
    return out


def index_in_child(data: Path, root: Path, hooks: bool = False, timeout: float = 60) -> dict:
    """Index ``root`` in a child process; the parsed JSON it prints. Fails the test with
    the child's output if it does not end within ``timeout`` seconds or crashes."""
    args = [sys.executable, str(Path(__file__).resolve()), str(data), str(root)] + (["--hooks"] if hooks else [])
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, cwd=str(REPO))
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"indexing {root} did not end within {timeout:.0f} s (a hang); stderr: {exc.stderr!r}"
        ) from None
    assert done.returncode == 0, f"the indexing child crashed ({done.returncode}): {done.stderr.decode(errors='replace')}"
    return json.loads(done.stdout)


_DECODE_CHILD = """
import json, re, resource, sys
sys.path.insert(0, sys.argv[1])
from imgfinder.core.decoder import DecodeError, decode_for_model

def peak_kb():  # VmHWM: ru_maxrss may carry the (large) test process's peak over fork+exec
    try:
        with open("/proc/self/status") as status:
            return int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)

decode_for_model(sys.argv[2], 224)  # warm up: imports, first-use allocations
before = peak_kb()
try:
    decode_for_model(sys.argv[3], 224)
    reason = None
except DecodeError as exc:
    reason = exc.reason
after = peak_kb()
print(json.dumps({"grew_mb": (after - before) / 1024, "reason": reason}))
"""


def decode_peak_growth(path: Path, warm_up: Path, timeout: float = 120) -> tuple[float, str | None]:
    """(MB the peak RSS of a fresh process grew by while decoding ``path`` for the model,
    the DecodeError reason or None), after decoding ``warm_up`` (a normal photo) first."""
    done = subprocess.run(
        [sys.executable, "-c", _DECODE_CHILD, str(REPO), str(warm_up), str(path)],
        capture_output=True, text=True, timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return out["grew_mb"], out["reason"]


def _p(path: str) -> str:
    return os.fsencode(path).hex()


def _child(data: str, root: str, hooks: bool) -> None:
    dropped = _drop_read_anything()  # before numpy starts its threads
    sys.path[:0] = [str(REPO), str(TESTS)]
    from conftest import FakeEmbedder

    from imgfinder.core import indexer as indexer_module
    from imgfinder.core.library import Library

    if hooks:
        _install_hooks(indexer_module, Path(root))
    with Library(data, FakeEmbedder()) as lib:
        ix = lib.indexer(batch_size=8, workers=2)
        for _ in ix.run([root]):
            pass
        summary = ix.summary.as_dict()
        summary["problems"] = [{"path": _p(p["path"]), "reason": p["reason"]} for p in summary["problems"]]
        ids, _ = lib.catalog.embeddings(lib.embedder.model_id)
        embedded = set(ids.tolist())
        rows = [
            {"path": _p(r.path), "size": r.size, "mtime_ns": r.mtime_ns, "hash": r.hash, "error": r.error,
             "embedded": r.id in embedded}
            for r in lib.catalog.rows()
        ]
    json.dump({"summary": summary, "rows": rows, "dropped_read_anything": dropped}, sys.stdout)


def _install_hooks(indexer_module, root: Path) -> None:
    """The races of a live folder (see the module docstring)."""
    real_scan = indexer_module.scan

    def scan(*args, **kwargs):
        yield from real_scan(*args, **kwargs)
        (root / "vanish.jpg").unlink()
        changing = root / "changing.jpg"
        changing.write_bytes((root / "changing.next").read_bytes())
        os.utime(changing, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))

    indexer_module.scan = scan
    photo_file = getattr(indexer_module, "PhotoFile", None)
    if photo_file is not None:
        real_hash = photo_file.content_hash

        def content_hash(self):
            digest = real_hash(self)
            if os.path.basename(self.path) == "written_while_read.jpg":
                with open(self.path, "ab") as handle:  # another program still writing it
                    handle.write(b"\0" * 100)
            return digest

        photo_file.content_hash = content_hash


def rows_by_path(result: dict) -> dict[bytes, dict]:
    return {bytes.fromhex(r["path"]): r for r in result["rows"]}


def problems_by_path(result: dict) -> dict[bytes, str]:
    return {bytes.fromhex(p["path"]): p["reason"] for p in result["summary"]["problems"]}


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], "--hooks" in sys.argv[3:])
