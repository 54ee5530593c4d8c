"""The research community's services and rules: accounts, permissions, moderation, comments,
collections, votes on cards. No HTTP here.
"""
