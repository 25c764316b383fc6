"""Settings read from `SMARTLINK_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Deployment settings; every field maps to `SMARTLINK_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="SMARTLINK_", extra="ignore")

    #: Folder holding the embedded SQLite file and the generated encryption key.
    data_dir: Path = Path("data")
    #: SQLAlchemy URL of the database; overrides the SQLite file under `data_dir`.
    database_url: str | None = None
    #: Redis URL of the Dramatiq broker; unset runs jobs in an in-process worker.
    redis_url: str | None = None
    #: Comma-separated base64 keys (32 bytes each) for SCIM tokens: the first
    #: encrypts, and every one decrypts. Unset, a key file in `data_dir` is used.
    encryption_key: str | None = Field(default=None, repr=False)
    #: Comma-separated hosts or networks that SCIM requests may reach over plain
    #: HTTP or on private and loopback addresses.
    outbound_allow: str = ""
    #: Seconds a SCIM request may take to connect, and to read each response.
    scim_timeout: float = 15.0
    #: Seconds one SCIM request may take in all, its response body included.
    scim_total_timeout: float = 60.0
    #: Bytes of a SCIM response body read at most; a longer body fails.
    scim_max_response_bytes: int = 10 * 1024 * 1024
    #: Resources asked for per page when listing a target's users and groups.
    scim_page_size: int = 100
    #: Group members added or removed by one PATCH request at most; a target
    #: announcing a smaller `bulk.maxOperations` gets that many instead.
    # NOTE: 100 is a guess at a size every target accepts; no standard sets one.
    scim_members_per_request: int = Field(default=100, gt=0)
    #: Minutes between scheduled refreshes that new applications get; 0 turns
    #: them off, as the test suite does.
    default_refresh_interval: int = Field(default=60, ge=0)
    #: Seconds between two looks of the refresh scheduler for due applications.
    scheduler_poll: float = Field(default=30.0, gt=0)
    #: Whether GraphQL serves introspection queries (`__schema`, `__type`).
    graphql_introspection: bool = True
    #: Whether GraphQL errors suggest similar names ("Did you mean ...?").
    graphql_field_suggestions: bool = True
    #: Whether a browser's GET of /graphql shows the GraphiQL page.
    graphiql: bool = True
    #: Levels of nested fields a GraphQL operation may have at most.
    graphql_max_depth: int = 12
    #: Aliases a GraphQL document may have at most.
    graphql_max_aliases: int = 30
    #: Tokens (names, punctuation, values) a GraphQL document may have at most.
    graphql_max_tokens: int = 2000
    #: Max bytes of a request body; a longer one is rejected with 413.
    max_request_bytes: int = Field(default=1_048_576, gt=0)

    @property
    def resolved_database_url(self) -> str:
        """Return `database_url`, or the SQLite file under `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'smartlink.db'}"

    @property
    def outbound_allow_list(self) -> list[str]:
        return [item.strip() for item in self.outbound_allow.split(",") if item.strip()]


@lru_cache
def get_settings() -> Settings:
    """Return the settings of this process, read once from the environment."""
    return Settings()
