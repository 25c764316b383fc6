"""SmartLink's own directory: users (memberships), folders and applications."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Uuid
from sqlmodel import Field, SQLModel

from domain.models.columns import UTCDateTime, new_id, utcnow


class User(SQLModel, table=True):
    """A SmartLink membership: one person of the customer's company."""

    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str
    #: Lower-cased `email`, unique, so addresses compare case-insensitively.
    email_key: str = Field(unique=True, index=True)
    given_name: str | None = None
    family_name: str | None = None
    title: str | None = None
    department: str | None = None
    #: As entered, such as `+44 20 7946 0958`.
    phone_number: str | None = None
    #: A BCP 47 language tag, such as `en-GB`.
    preferred_language: str | None = None
    employee_number: str | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def display_name(self) -> str:
        parts = [part for part in (self.given_name, self.family_name) if part]
        return " ".join(parts) if parts else self.email


class Folder(SQLModel, table=True):
    """A named set of users and applications; users of a folder reach its apps."""

    __tablename__ = "folders"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str
    name_key: str = Field(unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Application(SQLModel, table=True):
    """A third-party application that SmartLink users may have access to."""

    __tablename__ = "applications"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str
    name_key: str = Field(unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FolderUser(SQLModel, table=True):
    __tablename__ = "folder_users"

    folder_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True
        )
    )
    user_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid,
            ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )


class FolderApplication(SQLModel, table=True):
    __tablename__ = "folder_applications"

    folder_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True
        )
    )
    application_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid,
            ForeignKey("applications.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )


class AccessGrant(SQLModel, table=True):
    """Access to an application given to a user directly, not through a folder."""

    __tablename__ = "access_grants"

    user_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        )
    )
    application_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid,
            ForeignKey("applications.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
