"""Markdown headings as GitHub turns them into anchors (a helper of the tests, not a test)."""


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading line ("## Key-frame skips" -> key-frame-skips)."""
    text = heading.lstrip("#").strip().lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def anchors(text: str) -> set[str]:
    """The anchors of every heading of a Markdown text, fenced code blocks left out."""
    found, fenced = set(), False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            found.add(anchor(line))
    return found
