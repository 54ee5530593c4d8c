"""The site's routes, one module per part: pages, the JSON API, feeds, accounts, collections,
comments, For you, moderation, submissions, subscriptions and votes.
"""
