"""Short-lived tokens that bind a carrier's media stream (or a callback URL) to one call.

Stateless: token = expiry + HMAC(key, subject|expiry), so any node can verify it and the answer
document carries it to the stream's start message without any PII.
"""

from __future__ import annotations

import hashlib
import hmac
import time


class CallTokens:
    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = hashlib.sha256(b"stream-token:" + secret.encode()).digest()
        self._ttl_s = ttl_s

    def _mac(self, subject: str, expires: int) -> str:
        return hmac.new(self._key, f"{subject}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, subject: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + self._ttl_s)
        return f"{expires}.{self._mac(subject, expires)}"

    def verify(self, subject: str, token: str, now: float | None = None) -> bool:
        expires_text, _, mac = token.partition(".")
        if not expires_text.isdigit() or not mac:
            return False
        expires = int(expires_text)
        if expires < (now or time.time()):
            return False
        return hmac.compare_digest(mac, self._mac(subject, expires))
