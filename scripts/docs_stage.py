"""Stage the documentation site's pages for MkDocs.

The site's pages live where they belong in the repository (docs/*.md, the format spec beside
its crate, each package's README beside the package), but MkDocs reads one folder. This
script copies every page into that folder under its site name, rewrites the relative links
between them to the site names, turns links to repository files that are not pages (source
files, folders) into plain text naming the path, and writes the MkDocs configuration with the
navigation of mkdocs.yml, leaving out the optional pages that are absent.

    python scripts/docs_stage.py ROOT OUT_DIR CONFIG_OUT
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import yaml

# Repository path -> page name on the site. docs/*.md keep their names (added below).
PAGES = {
    "docs/README.md": "index.md",
    "format-spec/SPEC.md": "spec.md",
    "py-export/README.md": "exporter.md",
    "js/README.md": "npm.md",
    "interp/README.md": "interp.md",
    "kernels/README.md": "kernels.md",
    "benches/README.md": "benches.md",
    "wasi-nn/README.md": "wasi-nn-package.md",
}
# Pages another part of the build writes; the navigation lists them only when they exist.
OPTIONAL = {"zoo.md"}
# Folders copied as they are (images the pages show).
ASSETS = ["docs/images"]
# Where scripts/docs.sh writes the generated API references (links into it are checked by
# MkDocs once they are there).
GENERATED = "docs/api/"

LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
ITEM = re.compile(r"^( *)([-*+]|\d+\.) ")


def gfm_lists(text: str) -> str:
    """Return ``text`` with its lists written the way Python-Markdown reads them.

    The pages are written for GitHub's renderer, which starts a list right after a paragraph
    line and nests items indented by two spaces; Python-Markdown (MkDocs) needs a blank line
    before a list and four spaces per nesting level. Fenced code blocks are left alone.
    """
    out: list[str] = []
    fenced = False
    prev = ""
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else ITEM.match(line)
        if m:
            indent = len(m.group(1))
            line = " " * (indent * 2) + line[indent:]
            starts_block = prev.strip() and not prev.startswith((" ", "|", "#", ">")) and not ITEM.match(prev)
            if indent == 0 and starts_block:
                out.append("\n")
        out.append(line)
        prev = line
    return "".join(out)


def rewrite(text: str, source: str, root: Path) -> str:
    """Return ``text`` (a page at repository path ``source``) with its links rewritten for the site.

    Absolute URLs and in-page anchors stay. A link to another page becomes a link to that page's
    site name; a link to an asset under an ASSETS folder keeps its path relative to docs/; any
    other repository path becomes its link text followed by the path in code, since the site
    does not carry source files. Lines inside fenced code blocks are left alone.
    """
    out = []
    fenced = False
    base = (root / source).parent
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced:
            out.append(line)
            continue

        def sub(m: re.Match[str]) -> str:
            bang, label, target = m.groups()
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                return m.group(0)
            path, _, anchor = target.partition("#")
            resolved = (base / path).resolve()
            if (source.rsplit("/", 1)[0] + "/" + path).startswith(GENERATED):
                return m.group(0)
            try:
                rel = resolved.relative_to(root.resolve()).as_posix()
            except ValueError:
                raise SystemExit(f"{source}: link {target!r} leaves the repository") from None
            if not resolved.exists():
                raise SystemExit(f"{source}: link {target!r} points at nothing ({rel})")
            if rel in PAGES:
                return f"{bang}[{label}]({PAGES[rel]}{'#' + anchor if anchor else ''})"
            for asset in ASSETS:
                if rel.startswith(asset + "/"):
                    return f"{bang}[{label}]({rel[len('docs/') :]})"
            name = Path(rel).name
            return label if name in label else f"{label} (`{rel}`)"

        out.append(LINK.sub(sub, line))
    return gfm_lists("".join(out))


def prune(nav: list, present: set[str]) -> list:
    """Return the navigation ``nav`` without entries for optional pages missing from ``present``."""
    kept = []
    for entry in nav:
        (title, value), = entry.items() if isinstance(entry, dict) else (("", entry),)
        if isinstance(value, list):
            value = prune(value, present)
        elif value in OPTIONAL and value not in present:
            print(f"[docs] {value} is not there yet; left out of the navigation")
            continue
        kept.append({title: value} if title else value)
    return kept


def main() -> None:
    """Stage the pages and write the MkDocs configuration (arguments: ROOT OUT_DIR CONFIG_OUT)."""
    root, out, config_out = (Path(a) for a in sys.argv[1:4])
    pages = dict(PAGES)
    for md in sorted((root / "docs").glob("*.md")):
        pages.setdefault(f"docs/{md.name}", md.name)
    PAGES.update(pages)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    summary = root / "target" / "coverage" / "summary.md"
    for source, name in pages.items():
        text = (root / source).read_text(encoding="utf-8")
        if name == "coverage.md":
            table = summary.read_text(encoding="utf-8") if summary.exists() else "(no local run yet)"
            text = text.replace("<!-- coverage-summary -->", table)
        (out / name).write_text(rewrite(text, source, root), encoding="utf-8")
    for asset in ASSETS:
        shutil.copytree(root / asset, out / asset[len("docs/") :])
    config = yaml.safe_load((root / "mkdocs.yml").read_text(encoding="utf-8"))
    config["nav"] = prune(config["nav"], set(pages.values()))
    config["docs_dir"] = str(out.resolve())
    config["site_dir"] = str((root / "target" / "site").resolve())
    config_out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main()
