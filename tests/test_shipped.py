"""The model files come from the installed package, and a missing one is an error, never
a quiet switch to another model (the head-less backbone)."""

from __future__ import annotations

from pathlib import Path

import pytest

import imgfinder.shipped as shipped
from imgfinder.embedders import MissingResourceError, default_head, default_whitening


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMGFINDER_MODEL_HEAD", raising=False)
    monkeypatch.delenv("IMGFINDER_RETRIEVAL_WHITENING", raising=False)


def test_the_shipped_files_are_found_in_the_resource_package() -> None:
    models = shipped.resource_path("models")
    assert default_head() == models / "siamese_head.npz" and models.joinpath("siamese_head.npz").is_file()
    assert default_whitening() == models / "retrieval_whitening.npz"
    assert models.joinpath("retrieval_whitening.npz").is_file()
    assert (shipped.resource_path("icons") / "imgfinder.svg").is_file()


@pytest.mark.parametrize("lookup", [default_head, default_whitening])
def test_a_missing_shipped_file_says_the_installation_is_incomplete(monkeypatch, lookup) -> None:
    monkeypatch.setattr(shipped, "RESOURCE_PACKAGE", "imgfinder.core")  # a package without them
    with pytest.raises(MissingResourceError, match="installation is incomplete"):
        lookup()


def test_a_missing_resource_package_says_the_installation_is_incomplete(monkeypatch) -> None:
    monkeypatch.setattr(shipped, "RESOURCE_PACKAGE", "imgfinder.not_installed")
    with pytest.raises(MissingResourceError, match="installation is incomplete"):
        default_head()


@pytest.mark.parametrize(("var", "lookup"), [("IMGFINDER_MODEL_HEAD", default_head),
                                             ("IMGFINDER_RETRIEVAL_WHITENING", default_whitening)])
def test_an_override_must_name_a_file_or_say_none(monkeypatch, tmp_path: Path, var: str, lookup) -> None:
    monkeypatch.setenv(var, str(tmp_path / "missing.npz"))
    with pytest.raises(MissingResourceError, match=var):
        lookup()
    monkeypatch.setenv(var, "none")
    assert lookup() is None
    monkeypatch.setenv(var, str(tmp_path))  # a folder is not a file either
    with pytest.raises(MissingResourceError):
        lookup()
