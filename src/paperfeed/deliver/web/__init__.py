"""What every route shares: the hub of services built by create_app(), request dependencies,
templates, the response cache, the error envelope and who is asking.
"""
