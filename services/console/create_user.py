"""`python app.py create-user NAME --role staff|admin`: create a console user, or reset one's role and
password (which also clears a lockout). The password comes from a prompt (typed twice), or from the first
line of standard input when that is not a terminal (scripts: `echo "$PW" | python app.py create-user …`)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from config.settings import Settings
from services.console.accounts import AccountError, ConsoleAccounts
from services.store.client import create_mongo_client
from services.store.console_users import ROLES, Role
from services.store.database import Database


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py create-user", description=__doc__)
    parser.add_argument("name", help="user name: 2-32 characters, lowercase letters, digits, '.', '_' or '-'")
    parser.add_argument("--role", choices=ROLES, required=True)
    return parser.parse_args(argv)


def read_password(stdin: TextIO) -> str:
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("the two passwords differ")
    return first


async def create_user(settings: Settings, argv: list[str], stdin: TextIO = sys.stdin) -> int:
    args = parse_args(argv)
    role: Role = args.role
    try:
        password = read_password(stdin)
    except AccountError as error:
        sys.stderr.write(f"create-user: {error}\n")
        return 2
    client = create_mongo_client(settings.mongodb_uri)
    try:
        accounts = ConsoleAccounts(
            Database(client, settings.mongodb_database).console_users,
            max_failures=settings.console_login_max_failures,
            lockout_window_s=settings.console_lockout_window_s,
        )
        try:
            created = await accounts.create_user(args.name, role, password)
        except AccountError as error:
            sys.stderr.write(f"create-user: {error}\n")
            return 2
    finally:
        await client.close()
    sys.stdout.write(f"{'created' if created else 'updated'} {role} {args.name.strip().lower()}\n")
    return 0
