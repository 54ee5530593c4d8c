"""What members do together: votes, submissions, comments, collections and moderation."""
