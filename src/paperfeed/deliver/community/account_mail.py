"""The texts of account e-mail (pure): confirmation, reset, "you already have one" and
"that user name is taken"."""

from __future__ import annotations

from paperfeed.deliver.mail.smtp import Mail


def confirm_mail(to: str, username: str, link: str, hours: int) -> Mail:
    return Mail(
        to=to,
        subject="Confirm your paperfeed account",
        text=f"Hello {username},\n\nconfirm your e-mail address by opening this link "
        f"(valid for {hours} hours):\n\n{link}\n\n"
        "If you did not sign up, ignore this message.\n",
    )


def already_mail(to: str, reset_link: str) -> Mail:
    return Mail(
        to=to,
        subject="Your paperfeed account",
        text="Someone (perhaps you) tried to sign up with this e-mail address, which already "
        f"has an account. If you forgot your password, reset it here:\n\n{reset_link}\n\n"
        "Otherwise ignore this message.\n",
    )


def name_taken_mail(to: str, username: str, signup_link: str) -> Mail:
    return Mail(
        to=to,
        subject="Your paperfeed sign-up",
        text=f"Someone (perhaps you) tried to sign up with this e-mail address and the user "
        f"name {username}, which is taken, so no account was made. To sign up, choose "
        f"another user name here:\n\n{signup_link}\n\n"
        "Otherwise ignore this message.\n",
    )


def reset_mail(to: str, username: str, link: str, hours: int) -> Mail:
    return Mail(
        to=to,
        subject="Reset your paperfeed password",
        text=f"Hello {username},\n\nchoose a new password by opening this link "
        f"(valid for {hours} hours, once):\n\n{link}\n\n"
        "If you did not ask for this, ignore this message; your password stays.\n",
    )
