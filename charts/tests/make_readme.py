"""Writes the values table of each chart's README.md from its values.yaml.

A value's description is the `# --` comment above it (continued by plain `#` lines); its
default is what values.yaml holds. `test_charts.py` fails when a README's table differs
from this output, so every value is listed. Run:
.tools/chart-tests/bin/python charts/tests/make_readme.py
"""

import json
import pathlib
import re

import yaml

CHARTS = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"
KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):(.*)$")


def lookup(data, path):
    for part in path:
        data = data[part]
    return data


def rows(values_text):
    data = yaml.safe_load(values_text)
    lines = values_text.splitlines()
    stack, comment, skip_below = [], [], None
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped[4:].strip()]
            continue
        if stripped.startswith("#") and comment:
            comment.append(stripped[1:].strip())
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("-"):
            continue
        indent = len(match.group(1))
        if skip_below is not None and indent > skip_below:
            continue
        skip_below = None
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [k for _, k in stack] + [match.group(2)]
        inline = match.group(3).split(" #")[0].strip()
        following = next((l.strip() for l in lines[number + 1:] if l.strip() and not l.strip().startswith("#")), "")
        if inline or following.startswith("-"):
            yield ".".join(path), json.dumps(lookup(data, path)), " ".join(comment)
            if not inline:
                skip_below = indent
        else:
            stack.append((indent, match.group(2)))
        comment = []


def table(chart):
    out = ["| value | default | description |", "|---|---|---|"]
    for key, default, description in rows((CHARTS / chart / "values.yaml").read_text()):
        cells = [f"`{key}`", f"`{default}`", description]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out)


def updated_readme(chart):
    text = (CHARTS / chart / "README.md").read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table(chart)}\n{END}{tail}"


if __name__ == "__main__":
    for chart in ("task-api", "node-agent", "watchpost-observability"):
        (CHARTS / chart / "README.md").write_text(updated_readme(chart))
