"""Console sessions and CSRF tokens: a signed, expiring cookie (itsdangerous) and a per-session token.

The session cookie holds `{"u": user name, "e": the user's session epoch, "c": csrf token}`, signed
with CONSOLE_SECRET_KEY (salted per purpose) and refused after CONSOLE_SESSION_MAX_AGE_S. The role is
never taken from the cookie: every request reads the user from MongoDB, and a cookie whose epoch is not
the user's current one (after a logout or a password reset) is void. Every state-changing form carries
the session's CSRF token in a hidden field, compared in constant time (a cross-site form cannot read
it). The login form, before any session exists, uses a double-submit token: a signed cookie and the
same value in the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from config.settings import Settings

SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
CSRF_FIELD = "csrf_token"
LOGIN_CSRF_MAX_AGE_S = 3600


def console_secret(settings: Settings) -> str:
    if settings.console_secret_key is not None:
        return settings.console_secret_key.get_secret_value()
    # Derived (not reused): a console cookie can never pass as a stream or whisper token, nor the reverse.
    base = (settings.token_secret or settings.twilio_auth_token).get_secret_value()
    return hmac.new(base.encode(), b"console-session-key", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ConsoleSession:
    username: str
    epoch: int
    csrf_token: str


def tokens_match(supplied: str | None, expected: str) -> bool:
    return supplied is not None and hmac.compare_digest(supplied.encode(), expected.encode())


class SessionCodec:
    def __init__(self, settings: Settings) -> None:
        secret = console_secret(settings)
        self._sessions = URLSafeTimedSerializer(secret, salt="console-session")
        self._login = URLSafeTimedSerializer(secret, salt="console-login-csrf")
        self.max_age_s = settings.console_session_max_age_s
        secure = settings.console_cookie_secure
        self.secure = settings.public_base_url.startswith("https://") if secure is None else secure

    def new_session(self, username: str, epoch: int) -> tuple[ConsoleSession, str]:
        """A fresh session (a new CSRF token at every login) and its cookie value."""
        session = ConsoleSession(username=username, epoch=epoch, csrf_token=secrets.token_urlsafe(32))
        return session, self._sessions.dumps({"u": username, "e": epoch, "c": session.csrf_token})

    def read_session(self, cookie: str | None) -> ConsoleSession | None:
        if not cookie:
            return None
        try:
            data: Any = self._sessions.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("c"), str):
            return None
        if not isinstance(data.get("e"), int):
            return None
        return ConsoleSession(username=data["u"], epoch=data["e"], csrf_token=data["c"])

    def new_login_token(self) -> tuple[str, str]:
        """(the token for the login form, the cookie value that vouches for it)."""
        token = secrets.token_urlsafe(32)
        return token, self._login.dumps(token)

    def login_token_valid(self, cookie: str | None, supplied: str | None) -> bool:
        if not cookie or not supplied:
            return False
        try:
            expected: Any = self._login.loads(cookie, max_age=LOGIN_CSRF_MAX_AGE_S)
        except BadSignature:
            return False
        return isinstance(expected, str) and tokens_match(supplied, expected)

    def cookie_options(self, max_age: int) -> dict[str, Any]:
        return {"max_age": max_age, "httponly": True, "samesite": "lax", "secure": self.secure, "path": "/console"}
