"""The cloud emitters, found through the cloud profiles (:mod:`paybill.clouds`).

Each profile names its emitter (:attr:`CloudProfile.emitter`, all implementing
:class:`~paybill.emit.terraform.providers.base.CloudEmitter`); :data:`CLOUD_EMITTERS` loads it on
first use. A provider id with no registered profile has no emitter (its stacks are then reported
missing, PB0695). Tests may set or delete entries to stand in for an emitter.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import cast

from paybill.clouds import registry
from paybill.clouds.profile import CloudProfile
from paybill.emit.terraform.providers.base import CloudEmitter


class CloudEmitters(MutableMapping[str, CloudEmitter]):
    """provider id -> its profile's emitter, imported on first use; overrides win over profiles."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[CloudProfile, CloudEmitter]] = {}
        self._overrides: dict[str, CloudEmitter] = {}
        self._removed: set[str] = set()

    def __getitem__(self, provider: str) -> CloudEmitter:
        if provider in self._overrides:
            return self._overrides[provider]
        profile = registry.find(provider)
        if profile is None or provider in self._removed:
            raise KeyError(provider)
        loaded = self._loaded.get(provider)
        if loaded is None or loaded[0] is not profile:
            loaded = self._loaded[provider] = (profile, cast(CloudEmitter, profile.load_emitter()))
        return loaded[1]

    def __setitem__(self, provider: str, emitter: CloudEmitter) -> None:
        self._overrides[provider] = emitter
        self._removed.discard(provider)

    def __delitem__(self, provider: str) -> None:
        if provider not in self:
            raise KeyError(provider)
        self._overrides.pop(provider, None)
        self._removed.add(provider)

    def __iter__(self) -> Iterator[str]:
        registered = [p for p in registry.provider_ids() if p not in self._removed]
        return iter(registered + sorted(p for p in self._overrides if p not in registered))

    def __len__(self) -> int:
        return sum(1 for _ in self)


CLOUD_EMITTERS = CloudEmitters()
"""provider id -> emitter, for every registered cloud profile."""
