"""Request and response bodies of the live-call command API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StaffNoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=1000, description="Context for the assistant; never read out")
    author: str = Field(default="admin", min_length=1, max_length=80)


class HangUpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    author: str = Field(default="admin", min_length=1, max_length=80)


class ForwardedCommand(BaseModel):
    """What one node forwards to the node that holds the call."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["note", "hang_up"]
    author: str = Field(min_length=1, max_length=80)
    text: str = Field(default="", max_length=1000)


class CommandResult(BaseModel):
    call_sid: str
    outcome: Literal["done", "not_delivered"]
