"""Can Qt open a window here? Asked before the QApplication exists (and before PySide6's
Qt libraries are imported), so that a missing display, a missing system library or a
wrong ``QT_QPA_PLATFORM`` gives one line saying what to do, instead of Qt's abort
("could not connect to display", "Reinstalling the application may fix this problem").

``platform_problem()`` returns that line, or None when the window can open. It reads
PySide6's platform plugins from disk (their keys and the libraries they link to, from
the ELF files) without importing any Qt module. What it touches outside the process is
injectable for tests: ``can_load`` (is a shared library loadable) and ``can_connect``
(does a display server answer on a socket).

The libraries checked are the platform plugin's and those of the Qt libraries it links
to (QtGui's too: libEGL, libfontconfig, ...), transitively within PySide6's own folder.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import socket
import struct
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# Shared libraries Qt's platform plugins and QtGui need from the system, and the package
# that installs each: (Debian/Ubuntu, Fedora).
SYSTEM_PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl"),
    "libz.so.1": ("zlib1g", "zlib"),
    "libzstd.so.1": ("libzstd1", "libzstd"),
}
# Platforms that draw on a display server, and the variable that names it.
X11_PLATFORMS = {"xcb"}
WAYLAND_PLATFORMS = {"wayland", "wayland-egl", "wayland-brcm"}
CLI_HINT = "the command line works without a window: imgfinder --help"


def can_load(soname: str) -> bool | str:
    """True if the dynamic loader can load ``soname``; else the library it could not find
    (``soname`` itself, or one it needs)."""
    try:
        ctypes.CDLL(soname)
        return True
    except OSError as exc:
        found = re.match(r"\s*([^\s:]+\.so[.\d]*): cannot open shared object file", str(exc))
        return found.group(1) if found else soname


def can_connect(family: int, address: str | tuple[str, int], timeout: float = 1.0) -> bool:
    """Does a server accept a connection at ``address`` (a display's socket)?"""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(address)
        return True
    except OSError:
        return False


# -- PySide6's plugins, read from disk ---------------------------------------------------
def qt_dirs() -> tuple[Path, Path] | None:
    """(plugins/platforms, lib) of the installed PySide6, found without importing it."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    platforms, lib = root / "plugins" / "platforms", root / "lib"
    return (platforms, lib) if platforms.is_dir() else None


def plugin_keys(path: Path) -> list[str]:
    """The platform names a plugin answers to ("wayland", "wayland-egl", ...), read from its
    embedded metadata (CBOR: "Keys" then an array of short strings); the file name if that fails."""
    fallback = [re.sub(r"^libq", "", path.name.split(".so")[0])]
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError:
        return fallback
    at = head.find(b"\x64Keys")
    if at < 0 or at + 6 > len(head) or not 0x81 <= head[at + 5] <= 0x97:
        return fallback
    keys, pos = [], at + 6
    for _ in range(head[at + 5] - 0x80):
        kind = head[pos]
        if 0x61 <= kind <= 0x77:
            size, pos = kind - 0x60, pos + 1
        elif kind == 0x78:
            size, pos = head[pos + 1], pos + 2
        else:
            return fallback
        keys.append(head[pos:pos + size].decode("ascii", "replace"))
        pos += size
    return keys or fallback


def available_platforms(platforms_dir: Path) -> dict[str, Path]:
    """Platform name -> plugin file, for every plugin in ``platforms_dir``."""
    found: dict[str, Path] = {}
    for plugin in sorted(platforms_dir.glob("lib*.so")):
        for key in plugin_keys(plugin):
            found.setdefault(key, plugin)
    return found


def needed_libraries(path: Path) -> list[str]:
    """The DT_NEEDED entries of an ELF shared object (the libraries it links to); reads
    only the headers, the dynamic section and its string table."""
    with open(path, "rb") as f:

        def read(offset: int, size: int) -> bytes:
            f.seek(offset)
            return f.read(size)

        head = read(0, 64)
        if head[:4] != b"\x7fELF":
            return []
        is64, end = head[4] == 2, "<" if head[5] == 1 else ">"
        if is64:
            shoff, = struct.unpack_from(end + "Q", head, 0x28)
            shentsize, shnum = struct.unpack_from(end + "HH", head, 0x3A)
        else:
            shoff, = struct.unpack_from(end + "I", head, 0x20)
            shentsize, shnum = struct.unpack_from(end + "HH", head, 0x2E)
        table = read(shoff, shentsize * shnum)

        def section(i: int) -> tuple[int, int, int, int]:  # type, offset, size, link
            fmt = end + ("IIQQQQI" if is64 else "IIIIIII")
            _, stype, _, _, off, size, link = struct.unpack_from(fmt, table, i * shentsize)
            return stype, off, size, link

        needed: list[str] = []
        for i in range(shnum):
            stype, off, size, link = section(i)
            if stype != 6:  # SHT_DYNAMIC
                continue
            dynamic = read(off, size)
            _, str_off, str_size, _ = section(link)
            strings = read(str_off, str_size)
            entry = 16 if is64 else 8
            for pos in range(0, len(dynamic) - entry + 1, entry):
                tag, value = struct.unpack_from(end + ("qQ" if is64 else "iI"), dynamic, pos)
                if tag == 0:  # DT_NULL
                    break
                if tag == 1:  # DT_NEEDED
                    needed.append(strings[value:strings.index(b"\0", value)].decode())
        return needed


def missing_libraries(plugin: Path, qt_lib: Path, loadable: Callable[[str], bool | str] = can_load) -> list[str]:
    """System libraries the plugin (or a Qt library it uses, QtWidgets included) cannot load."""
    missing: list[str] = []
    seen: set[str] = set()
    todo = [plugin, qt_lib / "libQt6Widgets.so.6"]
    while todo:
        path = todo.pop(0)
        if not path.exists():
            continue
        try:
            needed = needed_libraries(path)
        except (OSError, struct.error, ValueError):
            continue
        for name in needed:
            if name in seen:
                continue
            seen.add(name)
            own = qt_lib / name
            if own.exists():  # shipped with PySide6: look at what it needs in turn
                todo.append(own)
                continue
            result = loadable(name)
            if result is not True:
                lacking = result if isinstance(result, str) else name
                if lacking not in missing:
                    missing.append(lacking)
    return missing


# -- displays --------------------------------------------------------------------------------
def x11_problem(display: str, connect: Callable[..., bool] = can_connect) -> str | None:
    """Why no X server answers at ``display`` (":0", "localhost:10.0"), or None if one does."""
    match = re.fullmatch(r"(?:(?P<host>[^:]*)(?P<proto>/[a-z]+)?)?:(?P<num>\d+)(?:\.\d+)?", display)
    if not match:
        return None  # a form we do not know (a launchd path, ...): let Qt try
    host, number = match.group("host") or "", int(match.group("num"))
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        if connect(socket.AF_UNIX, path) or (sys.platform.startswith("linux") and connect(socket.AF_UNIX, "\0" + path)):
            return None
        return (f"no display answers at DISPLAY={display} (no X server listens on {path}): open imgfinder "
                f"from a terminal of your desktop session, or over ssh connect with 'ssh -X'; {CLI_HINT}")
    if connect(socket.AF_INET, (host, 6000 + number)):
        return None
    return (f"no display answers at DISPLAY={display} (nothing listens on {host} port {6000 + number}): "
            f"is the ssh X forwarding ('ssh -X') still open?; {CLI_HINT}")


def wayland_problem(env: Mapping[str, str], connect: Callable[..., bool] = can_connect) -> str | None:
    name = env.get("WAYLAND_DISPLAY", "")
    if not name:
        return f"no Wayland display (WAYLAND_DISPLAY is not set); {CLI_HINT}"
    path = name if name.startswith("/") else os.path.join(env.get("XDG_RUNTIME_DIR", ""), name)
    if connect(socket.AF_UNIX, path):
        return None
    return f"no Wayland compositor answers at {path} (WAYLAND_DISPLAY={name}); {CLI_HINT}"


def install_hint(missing: list[str]) -> str:
    """"sudo apt install ... (Debian, Ubuntu) or sudo dnf install ... (Fedora)" for ``missing``."""
    debian, fedora = [], []
    for name in missing:
        deb, fed = SYSTEM_PACKAGES.get(name, (None, None))
        deb_pkg = deb or f"the package that has {name} (apt-file search {name})"
        fed_pkg = fed or f"'{name}()(64bit)'"
        if deb_pkg not in debian:
            debian.append(deb_pkg)
        if fed_pkg not in fedora:
            fedora.append(fed_pkg)
    return f"sudo apt install {' '.join(debian)} (Debian, Ubuntu) or sudo dnf install {' '.join(fedora)} (Fedora)"


# -- the check ----------------------------------------------------------------------------------
def requested_platforms(env: Mapping[str, str]) -> tuple[list[str], bool]:
    """The platforms Qt will try, in order, and whether the user chose them (QT_QPA_PLATFORM)."""
    value = env.get("QT_QPA_PLATFORM", "").strip()
    if value:
        return [p.split(":", 1)[0].strip() for p in value.split(";") if p.strip()], True
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return ["wayland", "xcb"], False
    return ["xcb"], False


def platform_problem(
    env: Mapping[str, str] | None = None,
    dirs: tuple[Path, Path] | None = None,
    loadable: Callable[[str], bool | str] | None = None,
    connect: Callable[..., bool] | None = None,
    system: str | None = None,
) -> str | None:
    """One line on why Qt cannot open the window (and what to do), or None if it can."""
    env = os.environ if env is None else env
    loadable = loadable or can_load
    connect = connect or can_connect
    system = system or sys.platform
    if not system.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None  # Windows and macOS have one platform each, always present
    dirs = dirs or qt_dirs()
    if dirs is None:
        return None  # an unusual PySide6 layout: let Qt speak for itself
    platforms_dir, qt_lib = dirs
    available = available_platforms(platforms_dir)
    wanted, chosen = requested_platforms(env)
    if chosen and not any(p in available for p in wanted):
        value = env.get("QT_QPA_PLATFORM", "")
        return (f"QT_QPA_PLATFORM={value} names no Qt platform installed here (there are: "
                f"{', '.join(sorted(available))}); unset it (unset QT_QPA_PLATFORM) to open the window on your desktop")
    if not chosen and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set): run imgfinder "
                f"in a desktop session; {CLI_HINT}")
    problems = []
    for name in (p for p in wanted if p in available):
        found = _problem_with(name, available[name], qt_lib, env, loadable, connect)
        if found is None:
            return None  # Qt takes the first platform that works
        problems.append(found)
    return problems[0] if problems else None


def _problem_with(name: str, plugin: Path, qt_lib: Path, env: Mapping[str, str],
                  loadable: Callable[[str], bool | str], connect: Callable[..., bool]) -> str | None:
    display = None
    if name in X11_PLATFORMS:
        value = env.get("DISPLAY", "")
        display = (f"no X display to open the window on (DISPLAY is not set); {CLI_HINT}" if not value
                   else x11_problem(value, connect))
    elif name in WAYLAND_PLATFORMS:
        display = wayland_problem(env, connect)
    missing = missing_libraries(plugin, qt_lib, loadable)
    if not missing:
        return display
    what = ", ".join(missing)
    libs = (f"Qt's {name} platform needs {what}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            f"install {'it' if len(missing) == 1 else 'them'} with {install_hint(missing)}")
    return f"{display}; also, {libs}" if display else libs
