"""The documentation site (mkdocs.yml) covers every page, builds offline and links only to
what exists: a page added under docs/ without a nav entry, a link to a file outside the
repository (such as the maintainers' ``shared/reference`` notes) or to a missing page fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any, Iterator, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MKDOCS = ROOT / "mkdocs.yml"
#: Plugins that work offline at build time (material's privacy/social/blog plugins fetch).
OFFLINE_PLUGINS = {"search", "mkdocstrings"}
# [text](target) outside code; images too. Targets with a scheme or a leading # are not files.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def _yaml() -> Any:
    yaml = pytest.importorskip("yaml", reason="PyYAML reads mkdocs.yml (the docs extra installs it)")

    class Loader(yaml.SafeLoader):  # mkdocs.yml may carry !!python/name tags; none are needed here
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return yaml.load(MKDOCS.read_text(encoding="utf-8"), Loader=Loader)


def nav_pages(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from nav_pages(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from nav_pages(value)


def pages() -> List[Path]:
    return sorted(DOCS.rglob("*.md"))


def links(page: Path) -> List[str]:
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return LINK.findall(text)


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    listed = [p for p in nav_pages(_yaml()["nav"]) if not re.match(r"[a-z]+://", p)]
    on_disk = {str(p.relative_to(DOCS)) for p in pages()}
    assert sorted(on_disk - set(listed)) == [], "pages missing from mkdocs.yml nav (add them there)"
    assert sorted(set(listed) - on_disk) == [], "mkdocs.yml nav names pages that do not exist"
    assert len(listed) == len(set(listed)), "a page is listed twice in the nav"


def test_the_build_fetches_nothing() -> None:
    config = _yaml()
    names: Set[str] = set()
    for plugin in config.get("plugins", []):
        names.update(plugin if isinstance(plugin, dict) else [plugin])
    assert names <= OFFLINE_PLUGINS, f"plugins that may fetch at build time: {names - OFFLINE_PLUGINS}"
    assert config["theme"].get("font") is False, "theme.font must be false (no Google Fonts)"
    handler = config["plugins"][[isinstance(p, dict) and "mkdocstrings" in p for p in config["plugins"]].index(True)]
    python = handler["mkdocstrings"]["handlers"]["python"]
    assert "inventories" not in python and "import" not in python, "object inventories are downloaded"
    assert config.get("strict") is True


def _targets() -> List[Tuple[str, str]]:
    return [(str(page.relative_to(ROOT)), target) for page in pages() for target in links(page)]


def test_docs_cite_nothing_outside_the_repository() -> None:
    bad = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            if re.search(r"(?<![\w.-])shared/reference|/work/", line):
                bad.append(f"{page.relative_to(ROOT)}:{number}: {line.strip()}")
    assert bad == [], "cite the public source (a vendor doc URL), not a file outside the repository"


@pytest.mark.parametrize("page, target", _targets())
def test_relative_links_resolve_inside_the_repository(page: str, target: str) -> None:
    if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
        return
    path = target.split("#", 1)[0]
    resolved = ((ROOT / page).parent / path).resolve()
    assert ROOT in resolved.parents or resolved == ROOT, f"{target} leaves the repository"
    assert resolved.exists(), f"{page}: {target} does not exist"
    if resolved.suffix == ".md":
        assert DOCS in resolved.parents, f"{page}: {target} is a page outside docs/ (the site cannot link it)"
    if "#" in target and resolved.suffix == ".md":
        anchor = target.split("#", 1)[1]
        assert anchor in anchors(resolved), f"{page}: {target}: no heading with the anchor #{anchor} there"


def slug(heading: str) -> str:
    """Python-Markdown's toc slug (the anchor mkdocs gives a heading)."""
    text = unicodedata.normalize("NFKD", heading.replace("`", "")).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> Set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(match) for match in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE)}


def test_links_are_checked() -> None:
    assert len(_targets()) >= 20


def test_api_reference_lists_every_public_name() -> None:
    import llmplex
    import llmplex.testing

    text = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = {line.split()[1].rsplit(".", 1)[1] for line in text.splitlines() if line.startswith("::: ")}
    assert sorted(set(llmplex.__all__) - {"__version__"} - documented) == [], "add these to docs/api.md"
    assert sorted(set(llmplex.testing.__all__) - documented) == [], "add these to docs/api.md"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="pip install '.[docs]' to build the site")
    pytest.importorskip("material", reason="pip install '.[docs]' to build the site")
    pytest.importorskip("mkdocstrings_handlers.python", reason="pip install '.[docs]' to build the site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert (tmp_path / "site" / "api" / "index.html").is_file()


# -- docs/options.md: the per-provider table is generated from the code ----------------------

OPTIONS = DOCS / "options.md"
BEGIN, END = "<!-- providers:begin -->", "<!-- providers:end -->"


def provider_table() -> str:
    """The built-in providers' endpoints, credentials and declared options, as markdown."""
    from llmplex.plugins.manager import default_plugins

    rows = ["| Provider | Default `base_url` | Credentials (key: environment) | Declared options |",
            "| --- | --- | --- | --- |"]
    for name, entry in sorted(default_plugins().providers.items()):
        if entry.distribution != "llmplex":
            continue  # a third-party plugin installed in this environment
        spec = entry.spec
        base = f"`{spec.default_base_url}`" if spec.default_base_url else ("required" if spec.requires_base_url else "chosen per model")
        credentials = "<br>".join(
            f"`{c.key}`: {', '.join(f'`{e}`' for e in c.env) or '(table only)'}{'' if c.required else ' (optional)'}"
            for c in spec.credentials
        ) or "none"
        options = "<br>".join(
            f"`{key}`: {text.replace('|', '/')}" for key, text in sorted(spec.options.items())
        ) or "none"
        rows.append(f"| `{name}` | {base} | {credentials} | {options} |")
    return "\n".join(rows)


def _split_options_page() -> Tuple[str, str, str]:
    text = OPTIONS.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    body, tail = rest.split(END, 1)
    return head, body, tail


def test_options_page_lists_every_built_in_provider_as_the_code_declares() -> None:
    _, body, _ = _split_options_page()
    assert body.strip() == provider_table(), (
        "docs/options.md's provider table is out of date: run `python tests/test_docs_site.py` to rewrite it"
    )


if __name__ == "__main__":  # python tests/test_docs_site.py: regenerate the table in docs/options.md
    head, _, tail = _split_options_page()
    OPTIONS.write_text(f"{head}{BEGIN}\n{provider_table()}\n{END}{tail}", encoding="utf-8")
    print(f"rewrote {OPTIONS.relative_to(ROOT)}")
