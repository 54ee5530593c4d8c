"""Write docs/settings.md from the Settings class (run by `make docs`; checked by tests)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from paperfeed.config import Settings

INTRO = """# Settings

Every setting is read from an environment variable `PAPERFEED_<NAME>` or from a
TOML file named by `--config FILE` / `PAPERFEED_CONFIG` (keys in lower case,
without the prefix). Environment variables win over the file; defaults apply
last. Generated from `paperfeed.config.Settings` by `make docs`; a test fails
when it is out of date.

Example `paperfeed.toml`:

```toml
database_url = "postgresql://paperfeed:secret@127.0.0.1/paperfeed"
timezone = "Europe/Berlin"
arxiv_delay_seconds = 3.0
```

| variable | default | what it does |
|---|---|---|
"""


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            shown = f"`{json.dumps(default)}`"
        else:
            shown = "unset" if default is None else f"`{default}`"
        help_text = (field.description or "").replace("|", "\\|")
        rows.append(f"| `PAPERFEED_{name.upper()}` | {shown} | {help_text} |")
    return INTRO + "\n".join(rows) + "\n"


if __name__ == "__main__":
    out = Path(__file__).with_name("settings.md")
    out.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {out}\n")
