"""Signed, expiring tokens that bind a carrier's media stream (or a callback URL) to one call.

Built on itsdangerous: one secret, and a key per purpose derived from it by salt, so a whisper token
can never pass as a stream token (or anything added later). A token also binds the parameters it was
issued with — a digest of them, so it carries no phone number — and a random nonce; the stream gate
(`services.stream_gate`) makes a stream token single-use.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import orjson
from itsdangerous import BadData, URLSafeTimedSerializer


class TokenPurpose(StrEnum):
    STREAM = "stream"
    WHISPER = "whisper"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    nonce: str
    issued_at: float


def parameters_digest(parameters: Mapping[str, str]) -> str:
    canonical = orjson.dumps(dict(sorted(parameters.items())))
    return hashlib.sha256(canonical).hexdigest()[:32]


class CallTokens:
    def __init__(
        self, secret: str, purpose: TokenPurpose, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret, salt=f"voice-agent/{purpose.value}", signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.purpose = purpose
        self._ttl_s = ttl_s
        self._clock = clock

    def issue(self, subject: str, parameters: Mapping[str, str] | None = None) -> str:
        payload = {"s": subject, "p": parameters_digest(parameters or {}), "n": secrets.token_urlsafe(12)}
        return self._serializer.dumps(payload)

    def verify(self, subject: str, token: str, parameters: Mapping[str, str] | None = None) -> TokenClaims | None:
        """The token's claims if it is ours, for this purpose, unexpired, and bound to exactly these values."""
        if not token or len(token) > 512:
            return None
        try:
            payload, issued = self._serializer.loads(token, return_timestamp=True)
        except BadData:
            return None
        if not isinstance(payload, dict):
            return None
        issued_at = issued.timestamp()
        if not 0 <= self._clock() - issued_at <= self._ttl_s:
            return None
        if payload.get("s") != subject or payload.get("p") != parameters_digest(parameters or {}):
            return None
        nonce = payload.get("n")
        return TokenClaims(subject, nonce, issued_at) if isinstance(nonce, str) else None
