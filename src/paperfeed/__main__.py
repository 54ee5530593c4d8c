"""``python -m paperfeed`` runs the command-line interface."""

from paperfeed.cli import main

if __name__ == "__main__":
    main()
