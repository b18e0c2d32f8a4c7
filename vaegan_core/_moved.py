"""The modules' earlier places (before 2026-12-06 every module sat flat in ``vaegan_core/``), kept importable:
``import vaegan_core.zoo`` or ``from vaegan_core.train import Trainer`` give the module at its new place
(``vaegan_core.storage.zoo``, ``vaegan_core.training.train``), the same module object, so a monkeypatch of one is
a patch of the other. docs/development.md's changelog lists the moves."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

GROUPS = {
    "storage": ("checkpoint", "checkpoint_folder", "zoo", "hub", "card", "files", "paths", "page_cache", "lock"),
    "models": ("nets", "prior", "conditional"),
    "training": ("train", "distributed", "data", "folders", "folder_cache", "live", "live_presets"),
    "analysis": ("latent", "latent_usage", "directions", "anomaly", "memorisation", "diagnostics"),
}
MOVED = {f"vaegan_core.{name}": f"vaegan_core.{group}.{name}" for group, names in GROUPS.items() for name in names}


class _EarlierPlaces(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self):
        self._own_specs: dict = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        self._own_specs[spec.name] = module.__spec__  # importlib sets the alias's spec on it next: put back below
        return module

    def exec_module(self, module) -> None:  # the module at its new place ran already; it keeps its own spec
        own = self._own_specs.pop(module.__spec__.name, None)
        if own is not None:
            module.__spec__ = own


def install() -> None:
    if not any(isinstance(finder, _EarlierPlaces) for finder in sys.meta_path):
        sys.meta_path.append(_EarlierPlaces())
