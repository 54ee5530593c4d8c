"""Commands over accounts: ``user create`` and ``token create``."""

from __future__ import annotations

import sys

import click

from paperfeed.cli.base import Context, edge, pass_context
from paperfeed.deliver import security
from paperfeed.deliver.community.accounts import Accounts
from paperfeed.errors import InvalidInputError, NotFoundError
from paperfeed.store import users
from paperfeed.store.users import ROLES


def _accounts(ctx: Context) -> Accounts:
    settings = ctx.settings
    return Accounts(settings, ctx.engine(), settings.clock(), security.load_secret(settings))


@click.group("user")
def user_group() -> None:
    """Manage members."""


@user_group.command("create")
@click.argument("email")
@click.option("--username", required=True, help="The public user name (3-32 of a-z 0-9 - _).")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (one line)."
)
@pass_context
@edge
def user_create(ctx: Context, email: str, username: str, role: str, password_stdin: bool) -> None:
    """Create a confirmed account (say, the first admin).

    Example: paperfeed user create ada@example.org --username ada --role admin
    --password-stdin < password.txt
    """
    if not password_stdin:
        raise InvalidInputError("pass the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    member = _accounts(ctx).create_user(
        email=email,
        username=username,
        password=password,
        role=role,  # type: ignore[arg-type]
    )
    click.echo(f"created {member.role} {member.username} <{member.email}> (id {member.id})")


@click.group("token")
def token_group() -> None:
    """Manage API tokens."""


@token_group.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A name to recognise it by.")
@pass_context
@edge
def token_create(ctx: Context, username: str, name: str) -> None:
    """Create an API token for a member and print it (it is stored hashed: copy it now).

    Example: paperfeed token create ada --name my-script
    """
    accounts = _accounts(ctx)
    with accounts.engine.connect() as conn:
        member = users.by_username(conn, username)
    if member is None:
        raise NotFoundError(f"no member {username!r}")
    click.echo(accounts.create_token(member, name))
