"""Console accounts: argon2 password hashes, creating users, and logins with a lockout per user.

A login is refused without checking the password while the user is locked (`CONSOLE_LOGIN_MAX_FAILURES`
wrong passwords within `CONSOLE_LOCKOUT_WINDOW_S`); the counter lives in MongoDB (`console_users`), so the
lock holds across nodes. An unknown user name costs one hash verification too, so the answer's timing
does not tell which names exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from models.call_record import utc_now
from services.store.console_users import ConsoleUser, ConsoleUserRepository, Role
from utils.logger import get_logger

log = get_logger(__name__)

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; this bounds the work one request can ask for


class AccountError(ValueError):
    """A user name or password that cannot be used (the message says why)."""


def normalize_username(name: str) -> str:
    return name.strip().lower()


def check_new_account(username: str, password: str) -> None:
    if USERNAME_PATTERN.fullmatch(username) is None:
        raise AccountError("user name: 2-32 characters, lowercase letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password: at most {MAX_PASSWORD_LENGTH} characters")


@dataclass(frozen=True)
class LoginResult:
    user: ConsoleUser | None = None
    locked_until: datetime | None = None  # set when refused because of the lockout

    @property
    def ok(self) -> bool:
        return self.user is not None


class ConsoleAccounts:
    def __init__(self, users: ConsoleUserRepository, *, max_failures: int, lockout_window_s: int) -> None:
        self._users = users
        self._hasher = PasswordHasher()
        self._max_failures = max_failures
        self._window = timedelta(seconds=lockout_window_s)
        # Verified against when the user does not exist, so unknown names take as long as known ones.
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    async def create_user(self, name: str, role: Role, password: str) -> bool:
        """Create the user, or reset its role and password; True if created. Raises AccountError."""
        username = normalize_username(name)
        check_new_account(username, password)
        return await self._users.put(username, role, self._hasher.hash(password))

    async def current_user(self, username: str) -> ConsoleUser | None:
        """The user a session names, as stored now (deleted users and role changes apply at once)."""
        return await self._users.get(username)

    async def end_sessions(self, username: str) -> None:
        """Log the user out everywhere (every session cookie issued so far is void)."""
        await self._users.end_sessions(username)
        log.info("console_logout", username=username)

    async def login(self, name: str, password: str, now: datetime | None = None) -> LoginResult:
        moment = now or utc_now()
        username = normalize_username(name)
        user = await self._users.get(username) if USERNAME_PATTERN.fullmatch(username) else None
        if user is not None and user.is_locked(moment):
            log.info("console_login_refused_locked", username=username)
            return LoginResult(locked_until=user.locked_until)
        if not 0 < len(password) <= MAX_PASSWORD_LENGTH:
            password = ""
        if user is None or not self._verify(user.password_hash, password):
            if user is None:
                self._verify(self._dummy_hash, password)
                log.info("console_login_failed", reason="unknown_user")
                return LoginResult()
            until = await self._users.record_failure(
                username, limit=self._max_failures, window=self._window, now=moment
            )
            log.info("console_login_failed", username=username, locked=until is not None)
            return LoginResult(locked_until=until)
        await self._users.clear_failures(username)
        if self._hasher.check_needs_rehash(user.password_hash):
            await self._users.set_password_hash(username, self._hasher.hash(password))
        log.info("console_login", username=username, role=user.role)
        return LoginResult(user=user)

    def _verify(self, password_hash: str, password: str) -> bool:
        if not password:
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
