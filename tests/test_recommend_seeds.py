"""Seeds from pastes and reference-manager exports (BibTeX from Zotero, RIS from Mendeley)."""

from __future__ import annotations

from paperfeed.models import normalise_title
from paperfeed.rank.recommend.seeds import parse_references

BIBTEX = r"""
@misc{vaswani2017attention,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  year = {2017},
  eprint = {1706.03762},
  archivePrefix = {arXiv},
  url = {http://arxiv.org/abs/1706.03762v5},
}
@article{he2016resnet,
  title = {Deep Residual Learning for {Image} Recognition},
  doi = {10.1109/CVPR.2016.90},
  journal = {CVPR},
}
@inproceedings{old,
  title = "Gauge theory",
  note = {arXiv:hep-th/9901001v1},
}
"""

RIS = """TY  - JOUR
TI  - Language Models are Few-Shot Learners
UR  - https://arxiv.org/abs/2005.14165
ER  -
TY  - JOUR
T1  - A Paper Without Ids
DO  - 10.1000/XYZ123
ER  -
"""


def test_pasted_ids_links_and_dois() -> None:
    got = parse_references(
        "2606.13677v2, https://arxiv.org/abs/2401.00001\narXiv:hep-th/9901001 "
        "doi: 10.1145/3292500.3330701. and 2606.13677 again"
    )
    assert got.arxiv_ids == ("2606.13677", "2401.00001", "hep-th/9901001")
    assert got.dois == ("10.1145/3292500.3330701",)
    assert got.title_keys == ()


def test_bibtex_entries_give_arxiv_ids_else_dois_and_titles() -> None:
    got = parse_references(BIBTEX)
    assert got.found == 3
    assert got.arxiv_ids == ("1706.03762", "hep-th/9901001")
    assert got.dois == ("10.1109/cvpr.2016.90",)
    assert normalise_title("Deep Residual Learning for Image Recognition") in got.title_keys
    assert normalise_title("Attention Is All You Need") in got.title_keys


def test_ris_entries() -> None:
    got = parse_references(RIS)
    assert got.found == 2
    assert got.arxiv_ids == ("2005.14165",)
    assert got.dois == ("10.1000/xyz123",)
    assert got.title_keys == (
        normalise_title("Language Models are Few-Shot Learners"),
        normalise_title("A Paper Without Ids"),
    )


def test_nothing_to_find() -> None:
    assert parse_references("just some words").found == 0
