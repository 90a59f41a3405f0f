"""The packaging files agree with the app, without building anything: the PyInstaller spec
bundles every resource file the wheel holds and keeps TensorFlow out, the launcher and the
AppStream metainfo are well-formed and name the types the app reads, the icons exist in
every size, and the entry points exist. (The real PyInstaller build and its smoke test are
packaging/build.sh: minutes, not a unit test.)
"""

from __future__ import annotations

import configparser
import fnmatch
import importlib
import importlib.util
import os
import subprocess
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI (the test extra)
    import tomli as tomllib
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image

from imgfinder import __version__, cli
from imgfinder.gui import app as gui_app

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
APP_ID = "io.github.imgfinder.imgfinder"
DESKTOP = PACKAGING / f"{APP_ID}.desktop"
METAINFO = PACKAGING / f"{APP_ID}.metainfo.xml"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
PROJECT_URL = "https://github.com/imgfinder/imgfinder"

# The MIME types of each file extension the app may read: shared-mime-info's name first, then
# any alias a desktop may still use (image/heic is one of image/heif).
MIME_OF = {
    ".jpg": ("image/jpeg",), ".jpeg": ("image/jpeg",), ".jpe": ("image/jpeg",), ".jfif": ("image/jpeg",),
    ".png": ("image/png",), ".webp": ("image/webp",), ".gif": ("image/gif",), ".bmp": ("image/bmp",),
    ".dib": ("image/bmp",), ".tif": ("image/tiff",), ".tiff": ("image/tiff",),
    ".heic": ("image/heif", "image/heic"), ".heif": ("image/heif",), ".hif": ("image/heif",),
    ".avif": ("image/avif",), ".jxl": ("image/jxl",), ".dng": ("image/x-adobe-dng",),
    ".cr2": ("image/x-canon-cr2",), ".cr3": ("image/x-canon-cr3",), ".nef": ("image/x-nikon-nef",),
    ".nrw": ("image/x-nikon-nrw",), ".arw": ("image/x-sony-arw",), ".raf": ("image/x-fuji-raf",),
    ".orf": ("image/x-olympus-orf",), ".rw2": ("image/x-panasonic-rw2",), ".pef": ("image/x-pentax-pef",),
    ".srw": ("image/x-samsung-srw",),
}


def load_module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def supported_extensions() -> set[str]:
    """What the scanner indexes: imgfinder/core/formats.py's list."""
    from imgfinder.core.formats import IMAGE_EXTENSIONS
    from imgfinder.core.scanner import IMAGE_EXTENSIONS as SCANNED

    assert SCANNED == IMAGE_EXTENSIONS
    return {e.lower() for e in IMAGE_EXTENSIONS}


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return parser["Desktop Entry"]


# -- the PyInstaller spec, run with PyInstaller's objects replaced by recorders -------------------
QT_PLUGINS = ("platforms/libqxcb.so", "platforms/libqoffscreen.so", "platforms/libqwayland.so",
              "imageformats/libqsvg.so", "iconengines/libqsvgicon.so", "platformthemes/libqxdgdesktopportal.so",
              "platformthemes/libqgtk3.so")


class Recorder:
    def __init__(self, kind: str, calls: list, *args, **kwargs) -> None:
        self.kind, self.args, self.kwargs = kind, args, kwargs
        calls.append(self)


@pytest.fixture(scope="module")
def spec_run() -> dict:
    """Run packaging/imgfinder.spec as PyInstaller would, recording what it asks for."""
    calls: list[Recorder] = []
    collected: dict[str, list[str]] = {"all": [], "dynamic_libs": []}
    hooks = types.ModuleType("PyInstaller.utils.hooks")

    def collect_all(name):
        collected["all"].append(name)
        return [(f"/site/{name}/data.bin", name)], [(f"/site/{name}/lib{name}.so", name)], [f"{name}._native"]

    def collect_dynamic_libs(name):
        collected["dynamic_libs"].append(name)
        return [(f"/site/{name}/lib{name}.so", name)]

    hooks.collect_all, hooks.collect_dynamic_libs = collect_all, collect_dynamic_libs
    fakes = {name: types.ModuleType(name) for name in ("PyInstaller", "PyInstaller.utils")}
    fakes["PyInstaller.utils.hooks"] = hooks
    saved_path = list(sys.path)
    saved_modules = {name: sys.modules.get(name) for name in [*fakes, "bundle_contents"]}
    sys.modules.update(fakes)

    class Analysis(Recorder):
        """Turns the (source, folder) pairs it is given into TOC entries (path in the bundle,
        source, kind), and adds some of what PyInstaller's hooks would collect."""

        def __init__(self, scripts, **kwargs) -> None:
            super().__init__("Analysis", calls, scripts, **kwargs)
            self.pure = ["pure"]
            self.binaries = [(f"{d}/{Path(s).name}", s, "BINARY") for s, d in kwargs["binaries"]]
            self.binaries += [(f"PySide6/Qt/plugins/{n}", f"/site/{n}", "BINARY") for n in QT_PLUGINS]
            self.binaries += [("ai_edge_litert/vendors/qualcomm/libLiteRtDispatch_Qualcomm.so", "/q.so", "BINARY")]
            self.datas = [(f"{d}/{Path(s).name}", s, "DATA") for s, d in kwargs["datas"]]
            self.datas += [("PySide6/Qt/translations/qtbase_de.qm", "/site/qtbase_de.qm", "DATA")]
            self.scripts = [("pyi_rth_multiprocessing", "/rth.py", "PYSOURCE")]
            self.scripts += [(Path(s).stem, s, "PYSOURCE") for s in scripts]

    namespace = {
        "__name__": "__main__", "SPECPATH": str(PACKAGING), "Analysis": Analysis,
        "PYZ": lambda *a, **k: Recorder("PYZ", calls, *a, **k),
        "EXE": lambda *a, **k: Recorder("EXE", calls, *a, **k),
        "COLLECT": lambda *a, **k: Recorder("COLLECT", calls, *a, **k),
    }
    try:
        exec(compile((PACKAGING / "imgfinder.spec").read_text(encoding="utf-8"), "imgfinder.spec", "exec"), namespace)
        bundle_contents = sys.modules["bundle_contents"]
    finally:
        sys.path[:] = saved_path
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    by_kind: dict[str, list[Recorder]] = {}
    for call in calls:
        by_kind.setdefault(call.kind, []).append(call)
    return {"calls": by_kind, "collected": collected, "bundle_contents": bundle_contents}


def wheel_resource_files() -> set[str]:
    """The files of resources/ that the wheel holds: pyproject's package-data patterns."""
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["imgfinder.resources"]
    root = REPO / "resources"
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return {f for f in files if any(fnmatch.fnmatch(f, pattern) for pattern in patterns)}


def collected(spec_run) -> set[str]:
    """Paths in the bundle of what COLLECT is given (after the spec's own filtering)."""
    (collect,) = spec_run["calls"]["COLLECT"]
    return {entry[0] for toc in collect.args[2:] for entry in toc}


def test_spec_bundles_every_resource_file_the_wheel_holds(spec_run) -> None:
    (analysis,) = spec_run["calls"]["Analysis"]
    bundled = collected(spec_run)
    wheel = wheel_resource_files()
    assert {"models/efficientnet_lite0_s160.tflite", "models/siamese_head.npz", "models/retrieval_whitening.npz",
            "models/MODEL_CARD.md", "icons/imgfinder.svg"} <= wheel
    assert sorted(f"imgfinder/resources/{f}" for f in wheel if f"imgfinder/resources/{f}" not in bundled) == []
    assert "./LICENSE" in bundled
    assert not [d for d in analysis.kwargs["datas"] if d[0].endswith((".py", ".pyc"))]
    # In the bundle, importlib.resources finds them where shipped.py looks.
    from imgfinder.shipped import RESOURCE_PACKAGE

    assert spec_run["bundle_contents"].RESOURCE_PACKAGE == RESOURCE_PACKAGE


def test_spec_keeps_tensorflow_out_and_collects_litert_and_the_installed_image_plugins(spec_run) -> None:
    (analysis,) = spec_run["calls"]["Analysis"]
    excludes = set(analysis.kwargs["excludes"])
    assert {"tensorflow", "keras", "tensorboard", "torch", "jax"} <= excludes
    assert not [e for e in excludes if e == "imgfinder" or e.startswith(("imgfinder.", "PIL", "numpy", "ai_edge_litert"))]
    assert not excludes & {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg"}
    assert spec_run["collected"]["dynamic_libs"] == ["ai_edge_litert"]
    bc = spec_run["bundle_contents"]
    installed = [n for n in ("pillow_heif", "rawpy", "pillow_jxl") if importlib.util.find_spec(n) is not None]
    assert spec_run["collected"]["all"] == installed == bc.installed_plugins()
    for name in installed:
        assert f"{name}._native" in analysis.kwargs["hiddenimports"]
        assert (f"/site/{name}/lib{name}.so", name) in analysis.kwargs["binaries"]
    assert ("/site/ai_edge_litert/libai_edge_litert.so", "ai_edge_litert") in analysis.kwargs["binaries"]


def test_spec_leaves_out_what_the_app_does_not_use_and_keeps_its_qt_plugins(spec_run) -> None:
    bundled = collected(spec_run)
    kept = {f"PySide6/Qt/plugins/{n}" for n in QT_PLUGINS if "gtk3" not in n}
    assert kept <= bundled and "ai_edge_litert/libai_edge_litert.so" in bundled
    assert "PySide6/Qt/plugins/platformthemes/libqgtk3.so" not in bundled
    assert not [n for n in bundled if n.startswith(("PySide6/Qt/translations/", "ai_edge_litert/vendors/"))]
    left_out = spec_run["bundle_contents"].left_out
    assert left_out("ai_edge_litert/libLiteRtWebGpuAccelerator.so") and not left_out("ai_edge_litert/libLiteRt.so")
    assert not left_out("ai_edge_litert/libpywrap_litert_common.so") and not left_out("imgfinder/resources/icons/x.svg")


def test_spec_makes_a_console_cli_and_a_windowed_app_in_one_folder(spec_run) -> None:
    exes = {e.kwargs["name"]: e for e in spec_run["calls"]["EXE"]}
    assert set(exes) == {"imgfinder", "imgfinder-gui"}
    assert exes["imgfinder"].kwargs["console"] is True and exes["imgfinder-gui"].kwargs["console"] is False
    entry = {name: [s[0] for s in exe.args[1] if s[0].startswith("imgfinder")] for name, exe in exes.items()}
    assert entry == {"imgfinder": ["imgfinder_main"], "imgfinder-gui": ["imgfinder_gui_main"]}
    for exe in exes.values():
        assert "pyi_rth_multiprocessing" in [s[0] for s in exe.args[1]]  # runtime hooks kept in both
        assert exe.kwargs["exclude_binaries"] is True  # one folder: the libraries are COLLECTed once
    (collect,) = spec_run["calls"]["COLLECT"]
    assert collect.kwargs["name"] == "imgfinder" and set(collect.args[:2]) == set(exes.values())


def test_libraries_only_left_out_plugins_need_are_left_out_too(spec_run) -> None:
    links = {
        "/q/libqgtk3.so": ["libgtk-3.so.0", "libcairo.so.2", "libglib-2.0.so.0", "libQt6Gui.so.6"],
        "/q/libcairo.so.2": ["libpixman-1.so.0", "libglib-2.0.so.0"], "/q/libpixman-1.so.0": [],
        "/q/libQt6Gui.so.6": ["libglib-2.0.so.0"], "/q/libglib-2.0.so.0": ["libpcre2-8.so.0"], "/q/libpcre2-8.so.0": [],
        "/q/_ext.so": ["libz.so.1"], "/q/libz.so.1": [],
    }

    def needed(source: str) -> list[str]:
        if source not in links:
            raise FileNotFoundError(source)
        return links[source]

    left = [("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/q/libqgtk3.so", "BINARY")]
    kept = [
        ("PySide6/Qt/lib/libQt6Gui.so.6", "/q/libQt6Gui.so.6", "BINARY"),
        ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libcairo.so.2", "/q/libcairo.so.2", "BINARY"), ("libpixman-1.so.0", "/q/libpixman-1.so.0", "BINARY"),
        ("libglib-2.0.so.0", "/q/libglib-2.0.so.0", "BINARY"), ("libpcre2-8.so.0", "/q/libpcre2-8.so.0", "BINARY"),
        ("pkg/_ext.so", "/q/_ext.so", "EXTENSION"), ("libz.so.1", "/q/libz.so.1", "BINARY"),
        ("libgone.so", "/q/not-there.so", "BINARY"),  # unreadable: needs nothing, and nothing kept needs it
    ]
    orphaned = spec_run["bundle_contents"].orphaned_libraries(left, kept, needed)
    assert orphaned == {"libcairo.so.2", "libpixman-1.so.0"}  # glib and pcre2: Qt needs them too


@pytest.mark.parametrize("script, args, expected", [
    ("imgfinder_main.py", ["--version"], f"imgfinder {__version__}"),
    ("imgfinder_gui_main.py", ["--help"], "PATH"),
])
def test_entry_scripts_run(script: str, args: list[str], expected: str) -> None:
    text = (PACKAGING / script).read_text(encoding="utf-8")
    assert text.index("multiprocessing.freeze_support()") < text.index("from imgfinder")  # before anything else
    proc = subprocess.run([sys.executable, str(PACKAGING / script), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and expected in proc.stdout, proc.stdout + proc.stderr


# -- the launcher and the metainfo --------------------------------------------------------------
def test_desktop_entry_is_well_formed_and_opens_what_it_is_given() -> None:
    entry = desktop_entry()
    required = {"Type": "Application", "Name": "imgfinder", "Icon": APP_ID, "Terminal": "false"}
    assert {k: entry.get(k) for k in required} == required
    assert entry["Exec"] == "imgfinder gui %F" and entry["TryExec"] == "imgfinder"
    for key in ("Categories", "Keywords", "MimeType"):
        assert entry[key].endswith(";") and all(entry[key].split(";")[:-1]), key
    assert "Graphics" in entry["Categories"].split(";")
    from imgfinder.cli import build_parser

    args = build_parser().parse_args(["gui", "/photos/a.jpg", "/photos/trip"])
    assert args.command == "gui" and [str(p) for p in args.paths] == ["/photos/a.jpg", "/photos/trip"]


def test_desktop_mime_types_are_the_types_the_app_reads() -> None:
    listed = desktop_entry()["MimeType"].split(";")[:-1]
    assert len(listed) == len(set(listed))
    extensions = supported_extensions()
    unknown = sorted(e for e in extensions if e not in MIME_OF)
    assert unknown == [], f"add the MIME type of {unknown} to MIME_OF here and to the .desktop MimeType"
    read = {m for e in extensions for m in MIME_OF[e]}
    assert sorted(read - set(listed)) == []  # every type the app reads is offered
    assert sorted(m for m in listed if m not in read) == []  # and no type it cannot read


def test_metainfo_is_well_formed_and_agrees_with_the_project() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    text = {tag: root.findtext(tag) for tag in ("id", "metadata_license", "project_license", "name", "summary")}
    assert text == {
        "id": APP_ID, "metadata_license": "CC0-1.0", "project_license": PYPROJECT["project"]["license"],
        "name": "imgfinder", "summary": text["summary"],
    }
    assert text["summary"] and len(text["summary"]) <= 35 and not text["summary"].endswith(".")
    assert len(root.findall("description/p")) >= 1
    (launchable,) = root.findall("launchable")
    assert launchable.get("type") == "desktop-id" and (PACKAGING / launchable.text).is_file()
    urls = {u.get("type"): u.text for u in root.findall("url")}
    project_urls = PYPROJECT["project"]["urls"]
    assert urls["homepage"] == project_urls["Homepage"] == PROJECT_URL
    assert urls["bugtracker"] == project_urls["Issues"]
    shots = root.findall("screenshots/screenshot")
    assert shots and [s.get("type") for s in shots].count("default") == 1
    for shot in shots:
        url = urlparse(shot.findtext("image"))
        assert url.scheme == "https" and shot.findtext("caption")
        repo_path = url.path.split("/main/", 1)[1]  # raw.githubusercontent.com/<owner>/<repo>/main/<path>
        assert (REPO / repo_path).is_file(), repo_path
    assert root.find("content_rating").get("type") == "oars-1.1"
    versions = [r.get("version") for r in root.findall("releases/release")]
    assert versions and versions[0] == PYPROJECT["project"]["version"] == __version__
    assert all(r.get("date") for r in root.findall("releases/release"))
    assert {b.text for b in root.findall("provides/binary")} == {"imgfinder", "imgfinder-gui"}


# -- icons ------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", ICON_SIZES)
def test_icon_exists_in_each_size(size: int) -> None:
    path = PACKAGING / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (size, size) and img.mode == "RGBA"
        alpha = img.getchannel("A")
        assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((size // 2, size // 2)) == 255  # rounded, opaque


def test_one_application_id_everywhere() -> None:
    render_icons = load_module("render_icons", PACKAGING / "render_icons.py")
    assert gui_app.APP_ID == render_icons.APP_ID == APP_ID
    assert tuple(render_icons.SIZES) == ICON_SIZES
    assert f'APP_ID = "{APP_ID}"' in (PACKAGING / "imgfinder.spec").read_text(encoding="utf-8")
    installer = (PACKAGING / "install-desktop-entry.sh").read_text(encoding="utf-8")
    assert f'id="{APP_ID}"' in installer
    assert sorted(p.name for p in PACKAGING.glob("*.desktop")) == [f"{APP_ID}.desktop"]


# -- entry points and the app's scripted start ---------------------------------------------------
def test_entry_points_name_functions_that_exist() -> None:
    scripts = PYPROJECT["project"]["scripts"] | PYPROJECT["project"]["gui-scripts"]
    assert scripts == {"imgfinder": "imgfinder.cli:main", "imgfinder-gui": "imgfinder.cli:gui_main"}
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func))


def test_gui_script_passes_its_arguments_to_the_app(monkeypatch, tmp_path) -> None:
    seen = {}
    monkeypatch.setattr(gui_app, "run_gui", lambda data_dir=None, paths=None: seen.update(data_dir=data_dir, paths=paths) or 7)
    monkeypatch.setattr(sys, "argv", ["imgfinder-gui", "--data-dir", str(tmp_path), "a.jpg", "trip"])
    monkeypatch.setattr(sys, "stderr", None)  # pythonw / a windowed build: no console
    assert cli.gui_main() == 7
    assert seen == {"data_dir": tmp_path, "paths": [Path("a.jpg"), Path("trip")]}
    assert sys.stderr is not None  # given a sink, so that a message cannot crash the app


def test_project_metadata_uses_the_spdx_license_and_one_project_url() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
    assert all(u.startswith(PROJECT_URL) for u in project["urls"].values())
    assert not [c for c in project["classifiers"] if c.startswith("License :: ")]  # not with an SPDX license
    assert any(r.startswith("setuptools>=77") for r in PYPROJECT["build-system"]["requires"])
    assert "setuptools>=77" in project["optional-dependencies"]["test"]


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), (" 250 ", 250), ("0", 0)])
def test_quit_after_ms_reads_the_environment(value, expected) -> None:
    env = {} if value is None else {"IMGFINDER_QUIT_AFTER_MS": value}
    assert gui_app.quit_after_ms(env) == expected


@pytest.mark.parametrize("value", ["soon", "-5", "1.5"])
def test_quit_after_ms_rejects_what_is_not_milliseconds(value) -> None:
    with pytest.raises(ValueError, match="IMGFINDER_QUIT_AFTER_MS"):
        gui_app.quit_after_ms({"IMGFINDER_QUIT_AFTER_MS": value})


def _run_app(args: list[str], quit_after: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGFINDER_")}
    env |= {"QT_QPA_PLATFORM": "offscreen", "IMGFINDER_QUIT_AFTER_MS": quit_after}
    return subprocess.run([sys.executable, "-m", "imgfinder", "gui", "--data-dir", str(tmp_path / "data"), *args],
                          capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)


def test_a_bad_quit_after_value_is_one_line_and_exit_1(tmp_path) -> None:
    proc = _run_app([], "later", tmp_path)
    assert proc.returncode == 1 and proc.stderr.strip().startswith("imgfinder: error: IMGFINDER_QUIT_AFTER_MS")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_app_opens_what_it_is_given_and_closes_by_itself(tmp_path, photo_paths) -> None:
    """What packaging/build.sh does with the frozen app, here with this checkout: a folder on
    the command line is indexed (by the model process), a photo is searched for, and the app
    closes once done, through its normal shutdown."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for src in photo_paths[:3]:
        with Image.open(src) as img:
            img.convert("RGB").resize((160, 120)).save(folder / src.name, quality=90)
    proc = _run_app([str(folder)], "200", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "library: 3 photos; last indexing: 3 added, 0 updated, 0 unchanged" in proc.stdout, proc.stdout + proc.stderr
    # Opened again: the folder is rescanned (nothing changed) while the photo is searched for.
    proc = _run_app([str(folder / photo_paths[0].name)], "200", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "last indexing: 0 added, 0 updated, 3 unchanged" in proc.stdout, proc.stdout + proc.stderr
    assert f"similar: 2 photos similar to {photo_paths[0].name}" in proc.stdout, proc.stdout + proc.stderr


def test_benchmarks_have_an_extra_and_the_screenshots_need_no_shared_folder(tmp_path) -> None:
    """Issue #23: the README's benchmark commands stopped on a missing ImageHash, and its
    screenshot command on a clone without ../shared."""
    import importlib.util

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(r.startswith("ImageHash") for r in project["optional-dependencies"]["bench"])
    assert "pip install -e '.[bench]'" in (REPO / "README.md").read_text()
    spec = importlib.util.spec_from_file_location("make_screenshots", REPO / "docs" / "make_screenshots.py")
    shots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shots)
    fallback = shots.default_photos(tmp_path / "no-shared")
    assert fallback == REPO / "tests" / "photos" and len(list(fallback.glob("*.jpg"))) >= shots.MIN_PHOTOS
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "a.jpg").write_bytes(b"")
    assert shots.default_photos(tmp_path / "shared") == tmp_path / "shared"


def test_the_readme_is_one_page_and_every_link_in_the_docs_leads_somewhere() -> None:
    """Issue #24: a user's page under ~200 lines, the rest in docs/, linked; a moved section
    must not leave a link to nowhere."""
    import re

    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for name in ("cli", "quality", "performance", "safety", "model", "how-it-works", "limitations", "gui"):
        assert f"docs/{name}.md" in readme and (REPO / "docs" / f"{name}.md").is_file()
    broken = [(page.name, target) for page in pages
              for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
              if not target.startswith(("http:", "https:")) and not (page.parent / target).exists()]
    assert broken == []


def test_the_code_map_names_every_module() -> None:
    """docs/code-map.md (issue #24): a newcomer's map by stage; a module added or moved must
    appear on it, and nothing on it may be gone."""
    import re

    text = (REPO / "docs" / "code-map.md").read_text()
    on_map = set(re.findall(r"\| `((?:core|cli|gui|model)/[a-z_]+\.py|[a-z_]+\.py)` \|", text))
    package = REPO / "imgfinder"
    modules = {str(p.relative_to(package)) for p in package.rglob("*.py")
               if p.name != "__init__.py" or p.parent.name == "cli"}
    assert on_map == modules, (sorted(modules - on_map), sorted(on_map - modules))
