"""A member's own things: sign-up and sign-in, e-mail subscriptions and saved searches,
recommendation settings.
"""
