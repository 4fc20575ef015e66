"""Registration and lookup of cloud profiles by provider id.

The built-in clouds are the packages of :mod:`paybill.providers`, loaded on first use (named here by
module path, the way entry points name plugins, so this package never imports them statically). A
sixth cloud registers its profile with :func:`register`; readers that build things from the set of
clouds (the Cloud spec model) key their caches on :func:`generation`, which every change bumps.
"""

from __future__ import annotations

import importlib

from paybill.clouds.profile import CloudProfile, TerraformProvider

BUILTIN_PACKAGE = "paybill.providers"
"""Importing it registers the five built-in profiles (``aws``, ``azure``, ``gcp``, ``oci``, ``ibm``)."""

_profiles: dict[str, CloudProfile] = {}


class _State:
    generation = 0
    loaded = False


def _ensure_builtins() -> None:
    if not _State.loaded:
        _State.loaded = True
        importlib.import_module(BUILTIN_PACKAGE)


def register(profile: CloudProfile) -> None:
    """Add ``profile``; registering the same object twice is a no-op, another one under its id an error."""
    current = _profiles.get(profile.provider)
    if current is profile:
        return
    if current is not None:
        raise ValueError(f"cloud provider {profile.provider!r} is already registered")
    names = {tp.name: tp for p in _profiles.values() for tp in p.terraform}
    for tp in profile.terraform:
        if tp.name in names and names[tp.name] != tp:
            raise ValueError(f"Terraform provider {tp.name!r} is already declared differently")
    _profiles[profile.provider] = profile
    _State.generation += 1


def unregister(provider: str) -> None:
    """Remove a registered profile (tests registering a fake cloud clean up with this)."""
    if _profiles.pop(provider, None) is not None:
        _State.generation += 1


def generation() -> int:
    """Changes whenever the set of profiles does."""
    _ensure_builtins()
    return _State.generation


def profiles() -> tuple[CloudProfile, ...]:
    """Every registered profile, in registration order (the built-in five first, in their order)."""
    _ensure_builtins()
    return tuple(_profiles.values())


def provider_ids() -> tuple[str, ...]:
    return tuple(profile.provider for profile in profiles())


def find(provider: str) -> CloudProfile | None:
    _ensure_builtins()
    return _profiles.get(provider)


def get(provider: str) -> CloudProfile:
    """The profile of ``provider``; a KeyError names the registered ones."""
    found = find(provider)
    if found is None:
        raise KeyError(f"no cloud profile for provider {provider!r} (registered: {', '.join(provider_ids())})")
    return found


def staged_migration_providers() -> tuple[str, ...]:
    """Providers whose emitter can keep a migration's ``from`` placement (sorted)."""
    return tuple(sorted(profile.provider for profile in profiles() if profile.staged_migrations))


def terraform_providers() -> dict[str, TerraformProvider]:
    """Every Terraform provider any profile uses, by local name (shared ones once)."""
    found: dict[str, TerraformProvider] = {}
    for profile in profiles():
        for tp in profile.terraform:
            found.setdefault(tp.name, tp)
    return found
