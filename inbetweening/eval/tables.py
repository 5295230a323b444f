"""The paper's results tables (Tables 1-3) as Markdown: one row per method."""

METRICS = ("fvd", "diversity", "ssim")
_HEADER = (
    "| method | FVD (Table 1) | diversity (Table 2) | SSIM, best of G (Table 3) |\n"
    "|---|---|---|---|"
)


def _cell(metric: str, interval: dict) -> str:
    digits = 1 if metric == "fvd" else 3
    return (
        f"{interval['mean']:.{digits}f} "
        f"[{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"
    )


def markdown_table(results: dict[str, dict], title: str, footnote: str) -> str:
    """results: {method: {metric: {"mean", "low", "high"}} for each of METRICS}."""
    rows = [
        f"| {name} | " + " | ".join(_cell(m, metrics[m]) for m in METRICS) + " |"
        for name, metrics in results.items()
    ]
    return "\n".join([f"### {title}", "", _HEADER, *rows, "", footnote]) + "\n"
