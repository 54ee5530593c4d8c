"""Small text helpers of the page templates: a title without LaTeX (for the browser tab),
counts in words and short numbers, the name of a code link."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The Greek letters and a few symbols arXiv titles use, as the characters they stand for.
_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "infty": "∞",
    "times": "×", "cdot": "·", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠",
    "approx": "≈", "sim": "∼", "to": "→", "rightarrow": "→", "leftarrow": "←", "pm": "±",
    "ell": "ℓ", "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏", "in": "∈",
    "ldots": "…", "dots": "…", "cdots": "⋯", "%": "%", "&": "&", "_": "_", "#": "#",
    "$": "$", "{": "{", "}": "}",
}  # fmt: skip
# The blackboard-bold letters of \Q, \R, \mathbb{R} and friends.
_DOUBLE_STRUCK = {"C": "ℂ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ", "E": "𝔼"}
_MATHBB = re.compile(r"\\(?:mathbb|bb)\s*\{?\s*([A-Za-z])\s*\}?")
_SHORT_BB = re.compile(r"\\([CNPQRZE])(?![A-Za-z])")
_COMMAND = re.compile(r"\\(?:([A-Za-z]+)(\s*)|([%&_#${}]))")
_SPACES = re.compile(r"\s+")


def _symbol(match: re.Match[str]) -> str:
    """A command's character, keeping one space after it when it stands for one."""
    if match.group(3):
        return _SYMBOLS.get(match.group(3), "")
    symbol = _SYMBOLS.get(match.group(1), "")
    return symbol + (" " if symbol and match.group(2) else "")


def plain(text: str) -> str:
    """``text`` with its TeX turned into plain characters: ``$\\ell_1$-\\textsc{Net}`` is
    ``ℓ1-Net`` and ``$\\mathbb{R}^d$`` is ``ℝ^d``. For the places that show no math (the
    browser tab, link titles)."""
    out = _MATHBB.sub(lambda m: _DOUBLE_STRUCK.get(m.group(1), m.group(1)), text)
    out = _SHORT_BB.sub(lambda m: _DOUBLE_STRUCK[m.group(1)], out)
    out = _COMMAND.sub(_symbol, out)
    out = out.replace("$", "").replace("{", "").replace("}", "")
    out = re.sub(r"(?<=\S)_(?=\S)", "", out)
    out = out.replace("~", " ")
    return _SPACES.sub(" ", out).strip()


def compact(number: int | None) -> str:
    """``1234`` is ``1.2k``, ``56000`` is ``56k``, ``1500000`` is ``1.5M``."""
    n = int(number or 0)
    for size, unit in ((1_000_000, "M"), (1_000, "k")):
        if n >= size:
            value = n / size
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return text.removesuffix(".0") + unit
    return str(n)


def papers_count(number: int) -> str:
    """``1 paper``, ``2 papers``, ``0 papers``."""
    return f"{number} paper" if number == 1 else f"{number} papers"


def code_label(url: str) -> str:
    """How a code link reads on a card: ``owner/repo`` for GitHub and GitLab, the path
    on Hugging Face, else the host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    path = [p for p in parts.path.split("/") if p]
    if host in {"github.com", "gitlab.com"} and len(path) >= 2:
        return "/".join(path[:2])
    if host == "huggingface.co" and path:
        return "HF " + "/".join(path[:3])
    return host or url
