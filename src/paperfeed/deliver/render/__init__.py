"""Pure presentation: papers as JSON and BibTeX, comments' Markdown, Atom and RSS feeds."""
