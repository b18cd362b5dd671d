"""Shared pieces of the deploy checks: the repository paths, the generator, rendered kustomizations."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
OVERLAYS = ("local-demo", "production")
KUBERNETES_VERSION = "1.32"


@functools.cache
def generator() -> ModuleType:
    """deploy/generate.py, loaded from its file (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("crm_deploy_generate", DEPLOY / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@functools.cache
def kustomize_command() -> tuple[str, ...] | None:
    """A standalone kustomize, else kubectl's built-in one; None when neither is installed."""
    if shutil.which("kustomize"):
        return ("kustomize", "build")
    if shutil.which("kubectl"):
        return ("kubectl", "kustomize")
    return None


@functools.cache
def _render(target: str) -> tuple[dict[str, Any], ...]:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed: the kustomizations cannot be rendered here")
    done = subprocess.run(
        [*command, str(K8S / target)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"kustomize failed for {target}:\n{done.stderr}"
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def render(target: str) -> list[dict[str, Any]]:
    """The resources kustomize builds for deploy/k8s/<target> (base or overlays/<name>)."""
    return list(_render(target))


@functools.cache
def schema(name: str) -> dict[str, Any]:
    loaded = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def settings_env_names(module: str) -> set[str] | None:
    """The environment names a service reads (pydantic-settings: field names upper-cased), or None when
    the service has no settings module yet."""
    try:
        settings = importlib.import_module(f"{module}.settings").Settings
    except ModuleNotFoundError:
        return None
    from crmkit.auth import AuthSettings

    # The token settings are given to every container alike (one shared configuration), also to a part
    # that does not verify tokens.
    return {name.upper() for name in (*settings.model_fields, *AuthSettings.model_fields)}


@functools.cache
def _k8s_definitions() -> Any:
    from kubernetes_validate.utils import schema_contents
    from referencing import Resource

    return Resource.from_contents(schema_contents(f"{K8S_SCHEMA_DIR}/_definitions.json", KUBERNETES_VERSION))


K8S_SCHEMA_DIR = f"kubernetes-json-schema/v{KUBERNETES_VERSION}.0-local-strict"


@functools.cache
def k8s_validator(api_version: str, kind: str) -> Any:
    """A validator of one built-in kind against the strict Kubernetes schema kubernetes-validate bundles.

    The same files and registry as ``kubernetes_validate.validate``, built once per kind instead of once per
    resource (loading the shared definitions is what takes the time)."""
    import re

    import jsonschema
    from kubernetes_validate.utils import schema_contents
    from referencing import Registry, Resource

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    contents = schema_contents(f"{K8S_SCHEMA_DIR}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION)
    registry: Registry[Any] = _k8s_definitions() @ (Resource.from_contents(contents) @ Registry())
    return jsonschema.Draft202012Validator(contents, registry=registry)
