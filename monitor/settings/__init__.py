"""scrapewatch's settings: one model per section, loaded from a YAML file and ``SCRAPEWATCH_*`` variables.

This package is the only place that reads configuration files and the environment (it never rewrites it).
"""

from monitor.settings.alerts import AlertChannel, AlertMute, AlertSettings, url_problem
from monitor.settings.audio import AudioSettings
from monitor.settings.base import Section, Severity
from monitor.settings.cases import CaseSettings
from monitor.settings.core import DEFAULT_USER_AGENT, HttpSettings, SchedulerSettings, StorageSettings
from monitor.settings.distributed import DistributedSettings
from monitor.settings.domains import POLICY_FILES, ProtectedDomain
from monitor.settings.model import CONFIG_ENV, ENV_PREFIX, Settings, load_settings, masked_dump, settings_reference
from monitor.settings.policy import CatalogueSettings, PolicyExpectation, PolicySettings
from monitor.settings.scraping import (
    DEFAULT_MEDIA_HOSTS,
    CommonCrawlEndpoint,
    DatasetHubEndpoint,
    DownloaderRecipe,
    RecipeStep,
    ScrapingSettings,
    WaybackEndpoint,
)
from monitor.settings.watch import WatchSettings, WatchTarget

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_MEDIA_HOSTS",
    "DEFAULT_USER_AGENT",
    "ENV_PREFIX",
    "POLICY_FILES",
    "AlertChannel",
    "AlertMute",
    "AlertSettings",
    "AudioSettings",
    "CaseSettings",
    "CatalogueSettings",
    "CommonCrawlEndpoint",
    "DatasetHubEndpoint",
    "DistributedSettings",
    "DownloaderRecipe",
    "HttpSettings",
    "PolicyExpectation",
    "PolicySettings",
    "ProtectedDomain",
    "RecipeStep",
    "SchedulerSettings",
    "ScrapingSettings",
    "Section",
    "Settings",
    "Severity",
    "StorageSettings",
    "WatchSettings",
    "WatchTarget",
    "WaybackEndpoint",
    "load_settings",
    "masked_dump",
    "settings_reference",
    "url_problem",
]
