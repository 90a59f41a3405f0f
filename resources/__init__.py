"""Data files shipped with imgfinder: the model files in ``models/``, the icons in ``icons/``.

pyproject.toml installs this folder as the package ``imgfinder.resources`` (in a wheel and
in an editable install alike), so the app finds it with :mod:`importlib.resources`;
:mod:`imgfinder.shipped` is the one place that looks files up here.
"""
