"""What a reader sees: the list pages and the paper page, author pages, thumbnails and For you."""
