"""A paper's code link found in its own text (#18): the first GitHub, GitLab or Hugging
Face link of its abstract or arXiv comment, so that papers Hugging Face never listed (and
so never gave a ``githubRepo``) show their code too.

Pure functions. A link is cut to the repository (``github.com/owner/repo``), whatever
file or tree path follows, and the punctuation that ends its sentence is left out.
"""

from __future__ import annotations

import re

from paperfeed.models import Paper

_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?(?P<host>github\.com|gitlab\.com|huggingface\.co)"
    r"/(?P<path>[A-Za-z0-9_.\-~/]+)",
    re.IGNORECASE,
)
# Hugging Face paths that are a repository: a model (owner/name), a dataset or a space.
_HF_KINDS = {"datasets", "spaces"}
# GitHub and GitLab pages that are no repository.
_NOT_OWNERS = {"about", "features", "pricing", "topics", "orgs", "sponsors", "marketplace"}


def _repository(host: str, path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    parts = [p.removesuffix(".git") for p in parts]
    while parts and parts[-1].endswith((".", ",", ";", ":")):
        parts[-1] = parts[-1].rstrip(".,;:")
        if not parts[-1]:
            parts.pop()
    host = host.lower()
    if host == "huggingface.co":
        if parts and parts[0] == "papers":
            return None
        take = 3 if parts and parts[0] in _HF_KINDS else 2
        if len(parts) < take:
            return None
        return f"https://huggingface.co/{'/'.join(parts[:take])}"
    if len(parts) < 2 or parts[0].lower() in _NOT_OWNERS:
        return None
    return f"https://{host}/{parts[0]}/{parts[1]}"


def find_code_link(*texts: str | None) -> str | None:
    """The first repository link in ``texts`` (in order), or None."""
    for text in texts:
        # Every host the pattern knows holds ".co", and no letter of it folds to another
        # case under IGNORECASE but its ASCII pair: a text without it has no link, and
        # most abstracts are skipped at once (the scan cost ~0.3 ms an abstract, per card
        # of every page that lists papers).
        if not text or ".co" not in text.lower():
            continue
        for match in _LINK.finditer(text):
            found = _repository(match.group("host"), match.group("path"))
            if found:
                return found
    return None


def code_link(paper: Paper) -> str | None:
    """The paper's code: the imported link (Hugging Face's ``githubRepo``), else the first
    repository its abstract or arXiv comment names."""
    return paper.code_url or find_code_link(paper.comments, paper.abstract)
