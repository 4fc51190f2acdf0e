"""What every benchmark writes: `results.json` and its Markdown report `results.md`."""

import json


def write_results(results, out, markdown_report):
    """Writes `<out>/results.json` and `<out>/results.md`; returns the report.

    Args:
        results: The benchmark's JSON-ready results.
        out: The output folder (a `pathlib.Path`), created if missing.
        markdown_report: Callable, `results` -> the Markdown report (a string).
    """
    out.mkdir(parents=True, exist_ok=True)
    report = markdown_report(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(report)
    return report
