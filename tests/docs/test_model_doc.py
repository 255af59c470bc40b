"""docs/model.md is the project's own model (issue 15 item 5): every "MODEL §n" citation
in the repository names a section that docs/model.md has, and the README and docs link
only to files inside the repository (a user who clones it has nothing next to it)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "docs" / "model.md"
CITED_IN = ("twin", "viz", "tests", "scenes", "benchmarks", "examples", "docs")
#: "MODEL §2.1-§2.3", "MODEL.md §0", "MODEL §4.3-§4.4": every § number of the citation
CITATION = re.compile(r"MODEL(?:\.md)?\s+(§\d+(?:\.\d+)?(?:\s*-\s*§\d+(?:\.\d+)?)?)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def model_sections() -> set[str]:
    return set(re.findall(r"^#{2,3} (§\d+(?:\.\d+)?) ", MODEL.read_text(encoding="utf-8"), re.M))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation and symbols dropped,
    spaces to hyphens."""
    kept = "".join(ch for ch in heading.strip().lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_model_doc_has_the_fixed_numbering():
    expected = {"§0", "§1", "§2", "§2.1", "§2.2", "§2.3", "§2.4", "§2.5", "§2.6", "§3",
                "§3.1", "§3.2", "§3.3", "§3.4", "§3.5", "§4", "§4.1", "§4.2", "§4.3",
                "§4.4", "§4.5", "§5", "§5.1", "§6"}
    assert expected <= model_sections()


def test_every_model_citation_resolves_to_a_section():
    sections = model_sections()
    files = [ROOT / "README.md"] + [p for d in CITED_IN for p in (ROOT / d).rglob("*")
                                    if p.suffix in (".py", ".md", ".toml", ".yaml")]
    missing = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for cite in CITATION.findall(text):
            for sec in re.findall(r"§\d+(?:\.\d+)?", cite):
                if sec not in sections:
                    missing.append(f"{path.relative_to(ROOT)}: MODEL {sec}")
    assert not missing, missing


def test_docs_link_only_inside_the_repository():
    bad = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for needle in ("../shared", "/work/"):
            if needle in text:
                bad.append(f"{path.relative_to(ROOT)} mentions {needle}")
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):           # http(s), mailto: outside by design
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if ROOT not in dest.parents and dest != ROOT:
                bad.append(f"{path.relative_to(ROOT)} links outside the repository: {target}")
            elif not dest.exists():
                bad.append(f"{path.relative_to(ROOT)} links to a missing file: {target}")
            elif anchor and dest.suffix == ".md":
                slugs = {github_slug(h) for h in
                         re.findall(r"^#+ (.+)$", dest.read_text(encoding="utf-8"), re.M)}
                if anchor not in slugs:
                    bad.append(f"{path.relative_to(ROOT)} links to a missing anchor: {target}")
    assert not bad, bad
