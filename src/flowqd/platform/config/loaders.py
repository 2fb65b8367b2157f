"""Reading platform and campaign files (:mod:`flowqd._toml` does the reading, validating and error lines)."""

from __future__ import annotations

from pathlib import Path

from flowqd import _toml
from flowqd.errors import ConfigError
from flowqd.platform.config.campaign import CampaignConfig
from flowqd.platform.config.hardware import PlatformConfig

__all__ = ["campaign_from_text", "load_campaign", "load_platform", "platform_from_text"]


def platform_from_text(text: str, source: str = "<platform>") -> PlatformConfig:
    """Validate a platform TOML text; errors name ``source``, the key and the value."""
    cfg = _toml.from_text(PlatformConfig, text, source)
    try:
        cfg.train()
    except ConfigError as exc:
        raise ConfigError(f"reactor: {exc}", source=source) from None
    cfg.remember(source, text)
    return cfg


def load_platform(path: str | Path) -> PlatformConfig:
    """Load and validate a platform file."""
    return platform_from_text(_toml.read_text(path), str(path))


def campaign_from_text(text: str, source: str = "<campaign>") -> CampaignConfig:
    """Validate a campaign TOML text (its own consistency; see :func:`check_campaign` for a platform)."""
    cfg = _toml.from_text(CampaignConfig, text, source)
    cfg.remember(source, text)
    return cfg


def load_campaign(path: str | Path) -> CampaignConfig:
    """Load and validate a campaign file (its own consistency; see :func:`check_campaign` for the platform)."""
    return campaign_from_text(_toml.read_text(path), str(path))
