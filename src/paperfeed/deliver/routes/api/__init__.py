"""What programs read: paperfeed's JSON API, the Hugging Face-compatible API, and Atom/RSS feeds."""
