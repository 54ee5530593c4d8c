"""The texts of subscription e-mail (pure): confirm, "already subscribed", change of address."""

from __future__ import annotations

from paperfeed.deliver.mail.smtp import Mail

_IGNORE = "If you did not ask for this, ignore this message: nothing will be sent to you.\n"


def confirm_mail(to: str, link: str, hours: int, frequency: str) -> Mail:
    return Mail(
        to=to,
        subject="Confirm your paperfeed digest",
        text=f"Hello,\n\nsomeone (perhaps you) asked for paperfeed's {frequency} digest of "
        "trending papers at this address. Confirm by opening this link "
        f"(valid for {hours} hours):\n\n{link}\n\n" + _IGNORE,
    )


def already_mail(to: str, preferences_link: str) -> Mail:
    return Mail(
        to=to,
        subject="Your paperfeed digest",
        text="Hello,\n\nsomeone (perhaps you) asked to subscribe this address to paperfeed's "
        "digest, which it already receives. Change what you receive, or unsubscribe, here:"
        f"\n\n{preferences_link}\n\nOtherwise ignore this message; nothing changes.\n",
    )


def change_mail(to: str, link: str, hours: int) -> Mail:
    return Mail(
        to=to,
        subject="Confirm your new address for the paperfeed digest",
        text="Hello,\n\nsomeone (perhaps you) asked to receive paperfeed's digest at this "
        f"address instead of their old one. Confirm by opening this link (valid for {hours} "
        f"hours):\n\n{link}\n\n" + _IGNORE,
    )
