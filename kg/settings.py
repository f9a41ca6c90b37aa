"""All settings of aiod-kg in one typed class; environment variables ``AIOD_KG_<NAME>``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIOD_KG_", env_file=None, extra="ignore")

    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public base URL: asset IRIs are {base_url}/{type}/{identifier}.",
    )
    store: str = Field(
        "data/store",
        description="Where the catalog lives: a directory for the embedded Oxigraph store.",
    )
    host: str = Field("127.0.0.1", description="Address `aiod-kg serve` binds to.")
    port: int = Field(8000, ge=1, le=65535)
    admin_key: SecretStr | None = Field(
        None, description="API key granting admin rights (writes). No default: writes are off."
    )
    validator: Literal["compiled", "pyshacl"] = Field(
        "compiled", description="SHACL engine for writes (both evaluate shapes/*.ttl)."
    )
    max_page_size: int = Field(1000, ge=1, description="Largest `limit` a list accepts.")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest request body.")
    import_batch_size: int = Field(1000, ge=1, description="Records validated/written per batch.")

    @property
    def base(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def store_path(self) -> Path:
        return Path(self.store)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
