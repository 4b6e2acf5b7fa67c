"""Bodies of the tenant admin's key, client and audit routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobsched.config import Role, Tier
from jobsched.empty import empty_dict
from jobsched.keys.admin import AuditRecord
from jobsched.keys.clients import ClientRecord, parse_scopes
from jobsched.keys.models import ApiKeyRecord, KeyStatus

ScopeTags = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=128)], Annotated[str, Field(max_length=256)]],
    Field(default_factory=empty_dict, max_length=10, description="limit it to jobs carrying all these tags"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyRequest(_Strict):
    role: Role
    tags: ScopeTags


class KeyView(BaseModel):
    key_id: str
    role: Role
    tier: Tier
    tags: dict[str, str]
    status: KeyStatus
    created_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> KeyView:
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


class KeyCreated(KeyView):
    value: str = Field(description="the key itself: shown in this answer only, never again")


class KeyList(BaseModel):
    items: list[KeyView]


class ClientRequest(_Strict):
    role: Role = Role.OPERATOR
    scopes: list[str] = Field(min_length=1, max_length=8, description="jobs.read, jobs.write, ...")
    tags: ScopeTags

    @field_validator("scopes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from jobsched.errors import InvalidInput

        try:
            return list(parse_scopes(value))
        except InvalidInput as exc:
            raise ValueError(exc.details[0]["message"]) from None


class ClientView(BaseModel):
    client_id: str
    role: Role
    scopes: list[str]
    tags: dict[str, str]
    status: KeyStatus
    created_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, record: ClientRecord) -> ClientView:
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


class ClientCreated(ClientView):
    client_secret: str = Field(description="shown in this answer only, never again")


class ClientList(BaseModel):
    items: list[ClientView]


class AuditList(BaseModel):
    items: list[AuditRecord]
    next_token: str | None = None
