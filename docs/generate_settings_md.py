"""Write docs/settings.md from the Settings class (run by `make docs`; checked by tests)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from paperfeed.config import GROUPS, Settings

INTRO = """# Settings

Every setting is read from an environment variable `PAPERFEED_<NAME>` or from a
TOML file named by `--config FILE` / `PAPERFEED_CONFIG` (keys in lower case,
without the prefix). Environment variables win over the file; defaults apply
last. Generated from `paperfeed.config.Settings` by `make docs`; a test fails
when it is out of date. The sections follow the groups of `paperfeed.config`
(one module each).

Example `paperfeed.toml`:

```toml
database_url = "postgresql://paperfeed:secret@127.0.0.1/paperfeed"
timezone = "Europe/Berlin"
arxiv_delay_seconds = 3.0
```
"""

HEADER = "| variable | default | what it does |\n|---|---|---|\n"


def _row(name: str) -> str:
    field = Settings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    if isinstance(default, list):
        shown = f"`{json.dumps(default)}`"
    else:
        shown = "unset" if default is None else f"`{default}`"
    help_text = (field.description or "").replace("|", "\\|")
    return f"| `PAPERFEED_{name.upper()}` | {shown} | {help_text} |"


def render() -> str:
    sections = []
    shown: set[str] = set()
    for group in GROUPS:
        title = (group.__doc__ or group.__name__).strip()
        rows = [_row(name) for name in group.model_fields]
        shown.update(group.model_fields)
        sections.append(f"## {title}\n\n{HEADER}" + "\n".join(rows) + "\n")
    missing = [name for name in Settings.model_fields if name not in shown]
    if missing:  # a setting outside every group would be left out of the page
        raise SystemExit(f"settings in no group of paperfeed.config.GROUPS: {missing}")
    return INTRO + "\n" + "\n".join(sections)


if __name__ == "__main__":
    out = Path(__file__).with_name("settings.md")
    out.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {out}\n")
