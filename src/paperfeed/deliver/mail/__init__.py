"""E-mail on the wire: building checked messages, MIME, one paced SMTP connection per batch, what
to do after each reply.
"""
