"""User files that register variants with the same decorator as ``models/``.

A plugin is code: it runs only when the caller passes it. A run records each plugin's file name,
SHA-256 and variants; loading or resuming a run directory executes none of the files it names,
and checks the files the caller passes against those records.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path

from suite import registry
from suite.errors import SuiteError

# module name of each loaded plugin file → the variants it registered (loading twice returns them)
_LOADED: dict[str, list[str]] = {}
# module name → SHA-256 of the file as it was imported
_DIGESTS: dict[str, str] = {}


def load_variants(plugins: Iterable[str | Path] = ()) -> list[str]:
    """Import the bundled variants, then each plugin file; returns the plugins' variants."""
    import models

    models.load_all()
    added: list[str] = []
    for path in plugins:
        added += [name for name in load_plugin(Path(path)) if name not in added]
    return added


def load_plugin(path: Path) -> list[str]:
    """Import ``path``; returns the variant names it registered. Faults become one-line errors.

    A file is imported once per process: loading it again (a notebook cell run twice) returns
    the variants of the first import instead of registering them a second time.
    """
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no such file", param="plugin")
    module_name = _module_name(path)
    if module_name in _LOADED and all(n in registry.names() for n in _LOADED[module_name]):
        return list(_LOADED[module_name])
    before = set(registry.names())
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SuiteError(f"{path}: not an importable Python file", param="plugin")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    _DIGESTS[module_name] = file_sha256(path)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any fault in a user's file is reported in one line
        _forget(module_name, set(registry.names()) - before)
        raise SuiteError(f"{path}: {type(exc).__name__}: {exc}", param="plugin") from exc
    added = sorted(set(registry.names()) - before)
    if not added:
        _forget(module_name, set())
        raise SuiteError(
            f"{path}: registers no variant; decorate a factory with @suite.registry.register(...)",
            param="plugin",
        )
    for name in added:
        fault = _output_fault(name)
        if fault:
            _forget(module_name, set(added))
            raise SuiteError(f"{path}: variant {name!r} {fault}; expected (B, 10) logits", param="plugin")
    _LOADED[module_name] = added
    return added


def _module_name(path: Path) -> str:
    return f"c4suite_plugin_{abs(hash(str(Path(path).resolve())))}"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def plugin_record(path: str | Path) -> dict:
    """What a run records of a plugin file: its name, SHA-256 (as imported) and variants."""
    path = Path(path)
    module_name = _module_name(path)
    digest = _DIGESTS.get(module_name) or file_sha256(path)
    return {"file": path.name, "sha256": digest, "variants": list(_LOADED.get(module_name, []))}


def plugin_records(manifest: dict) -> list[dict]:
    """A run's plugin records; runs made before they were kept name only the files' paths."""
    records = manifest.get("plugins")
    if isinstance(records, list) and all(isinstance(r, dict) and "file" in r for r in records):
        return records
    paths = manifest.get("config", {}).get("plugins") or []
    return [{"file": Path(str(p)).name, "sha256": None, "variants": None} for p in paths]


def _describe(record: dict) -> str:
    return f"{record.get('file')} (SHA-256 {record.get('sha256') or 'not recorded'})"


def check_passed(records: list[dict], passed: Iterable[str | Path], allow_changed: bool = False) -> None:
    """Refuse a passed file whose name a record has but whose SHA-256 differs (its variants may
    not be the ones the run trained), unless ``allow_changed``."""
    digests = {r.get("sha256") for r in records}
    for path in map(Path, passed):
        if not path.is_file():
            raise SuiteError(f"{path}: no such file", param="plugin")
        digest = file_sha256(path)
        same_name = [r for r in records if r.get("file") == path.name and r.get("sha256")]
        if digest not in digests and same_name and not allow_changed:
            raise SuiteError(
                f"{path} has SHA-256 {digest}, but the run was made with {_describe(same_name[0])}; "
                "its variants may differ from those trained",
                param="plugin",
                override="allow_changed_plugins",
            )


def load_run_plugins(
    records: list[dict], passed: Iterable[str | Path], needed: Iterable[str], allow_changed: bool = False
) -> list[Path]:
    """Load the plugin files the caller ``passed`` (checked against a run's ``records``) and no
    other. Each record that provides a ``needed`` variant must be met by a passed file with its
    SHA-256 (or, with ``allow_changed``, by one that registers its variants); otherwise refuse in
    one line naming the recorded file and SHA-256. Returns the passed files, resolved."""
    passed = [Path(p).resolve() for p in passed]
    check_passed(records, passed, allow_changed)
    loaded = set(load_variants(passed))
    needed = set(needed)
    digests = {file_sha256(p) for p in passed}
    for record in records:
        wanted = set(record.get("variants") or ()) & needed
        if not wanted or record.get("sha256") in digests:
            continue
        if wanted <= loaded and (allow_changed or not record.get("sha256")):
            continue
        _refuse(record, wanted, provided=wanted <= loaded)
    missing = sorted(name for name in needed if name not in registry.names())
    if missing:  # a run made before plugins' variants were recorded
        if not records:
            raise SuiteError(f"{', '.join(missing)}: unknown variant(s), and the run names no plugin file")
        _refuse({"file": " or ".join(r["file"] for r in records)}, set(missing), provided=False)
    return passed


def _refuse(record: dict, variants: set[str], provided: bool) -> None:
    names = ", ".join(sorted(variants))
    if provided:  # by a passed file with other contents
        raise SuiteError(
            f"{_describe(record)}: the run's variant(s) {names} came from this file; the file passed "
            "instead differs, so its variants may differ from those trained",
            param="plugin",
            override="allow_changed_plugins",
        )
    raise SuiteError(
        f"{_describe(record)}: the run's variant(s) {names} come from this file, which was not passed; "
        "pass it to go on (nothing a run directory names is executed)",
        param="plugin",
    )


def _forget(module_name: str, names: set[str]) -> None:
    """Undo a failed import: its module and whatever it registered."""
    sys.modules.pop(module_name, None)
    _LOADED.pop(module_name, None)
    _DIGESTS.pop(module_name, None)
    for name in names:
        registry.unregister(name)


def _output_fault(name: str) -> str | None:
    """Build a plugin's variant once: None if it maps (2, 1, 28, 28) to (2, 10) logits."""
    import torch

    try:
        model = registry.get(name).eval()
        with torch.no_grad():
            out = model(torch.rand(2, 1, 28, 28))
    except Exception as exc:  # noqa: BLE001 - reported in one line
        return f"fails on a (2, 1, 28, 28) input: {type(exc).__name__}: {exc}"
    return None if tuple(out.shape) == (2, 10) else f"returns shape {tuple(out.shape)}"
