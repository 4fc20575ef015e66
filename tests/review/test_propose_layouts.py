"""``paybill propose`` edits ordinary YAML of any layout: flow mappings over several lines included.

The edit replaces only the characters of the value it changes; where a layout truly cannot be kept
(a new key in a file ruamel.yaml would re-emit differently), PB0976 names the place and the cause.
"""

from __future__ import annotations

import json

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.propose.yamledit import EditError, edit_text

VANDELAY = "specs/tenants/vandelay.yaml"
FLOW_PLACEMENT = "  placement: {cloud: aws-prod, region: us-east-1,\n              pool: aws-use1-shared}\n"


def multiline_flow(repo) -> None:
    repo.edit(VANDELAY, "  placement:\n    cloud: aws-prod\n    region: us-east-1\n    pool: aws-use1-shared\n",
              FLOW_PLACEMENT)
    repo.edit(VANDELAY, "  plan: free\n", "  plan: free   # reviewed quarterly\n")
    repo.commit("vandelay: placement as a flow mapping over two lines")


def test_propose_edits_a_file_with_a_flow_mapping_over_several_lines(repo, run) -> None:
    multiline_flow(repo)
    base = repo.head()
    code, out, err = run(repo.root, "propose", "specs", "--as", "billing-agent", "--no-terraform",
                         "--set", "Tenant/vandelay:spec.plan=starter", "-m", "Upgrade Vandelay")
    assert code == 0, out + err
    branch = "paybill/billing-agent/upgrade-vandelay"
    diff = repo.git("diff", "--unified=0", base, branch, "--", "specs")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-  plan: free   # reviewed quarterly", "+  plan: starter   # reviewed quarterly"]
    assert FLOW_PLACEMENT in repo.git("show", f"{branch}:{VANDELAY}")


def test_a_layout_that_cannot_be_kept_is_named_with_its_place_and_cause(repo, run) -> None:
    multiline_flow(repo)
    # A new key needs ruamel.yaml to re-emit the document, which would join the flow mapping.
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent", "--dry-run",
                       "--set", "Tenant/vandelay:spec.dataResidency.allowedRegions=[us-east-1]", "-m", "x")
    assert code == 1
    line = repo.read(VANDELAY).splitlines().index(FLOW_PLACEMENT.splitlines()[0]) + 1
    assert f"{VANDELAY}:{line}:14: error[PB0976]: " in out
    assert f"would join the flow mapping written over lines {line}-{line + 1} onto one line" in out


def test_a_path_through_a_scalar_is_reported_at_that_scalar(repo, run) -> None:
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent", "--dry-run",
                       "--set", "Tenant/vandelay:spec.plan.tier=2", "-m", "x")
    assert code == 1
    line = repo.read(VANDELAY).splitlines().index("  plan: free") + 1
    assert f"{VANDELAY}:{line}:9: error[PB0976]: 'spec.plan' is not a mapping, so 'spec.plan.tier' cannot be set" \
        in out


# -- property: any mix of block and (multi-line) flow layouts, any new value --------------------

WORDS = st.from_regex(r"w[a-z0-9-]{0,6}", fullmatch=True)
SCALARS = st.one_of(WORDS, st.integers(0, 10**6))
NEW_VALUES = st.one_of(SCALARS, st.booleans(), st.text(alphabet=" ,#:[]{}'\"ab-", min_size=1, max_size=8))


QUOTES = {"plain": "{}", "single": "'{}'", "double": '"{}"'}


@st.composite
def documents(draw):
    """(YAML text, data, list of (path, line of its value, quoting)) with every nested mapping laid out
    one of three ways (block, flow on one line, flow broken over several lines) and every string
    written plain, single- or double-quoted."""
    styles: dict[tuple[str, ...], str] = {}

    def written(path: tuple[str, ...], scalar) -> str:
        style = draw(st.sampled_from(sorted(QUOTES))) if isinstance(scalar, str) else "plain"
        styles[path] = style
        return QUOTES[style].format(scalar)

    data = draw(st.dictionaries(WORDS, st.one_of(SCALARS, st.dictionaries(WORDS, SCALARS, min_size=1, max_size=4)),
                                min_size=1, max_size=5))
    lines: list[str] = []
    leaves: list[tuple[tuple[str, ...], int]] = []
    for key, value in data.items():
        if not isinstance(value, dict):
            leaves.append(((key,), len(lines)))
            lines.append(f"{key}: {written((key,), value)}  # {key}")
            continue
        layout = draw(st.sampled_from(["block", "flow", "flow-lines"]))
        if layout == "block":
            lines.append(f"{key}:")
            for inner, scalar in value.items():
                leaves.append(((key, inner), len(lines)))
                lines.append(f"  {inner}: {written((key, inner), scalar)}")
            continue
        items = list(value.items())
        text = f"{key}: {{"
        for n, (inner, scalar) in enumerate(items):
            if n and layout == "flow-lines" and draw(st.booleans()):
                lines.append(text + ",")
                text = "    "
            elif n:
                text += ", "
            leaves.append(((key, inner), len(lines)))
            text += f"{inner}: {written((key, inner), scalar)}"
        lines.append(text + "}")
    return "\n".join(lines) + "\n", styles, leaves


@settings(max_examples=150, deadline=None)
@given(documents(), st.data())
def test_replacing_a_value_changes_only_its_line_in_any_layout(document, data) -> None:
    text, styles, leaves = document
    path, line = data.draw(st.sampled_from(leaves))
    value = data.draw(NEW_VALUES)
    try:
        edited = edit_text(text, [(0, path, value)])
    except EditError as error:  # pragma: no cover - the property is that this never happens
        raise AssertionError(f"refused: {error}") from None
    expected = yaml.safe_load(text)
    node = expected
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert yaml.safe_load(edited) == expected
    old_lines, new_lines = text.splitlines(), edited.splitlines()
    assert len(old_lines) == len(new_lines)
    assert [n for n, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b] in ([], [line])
    assert all(f"# {key}" in new_lines[n] for (key,), n in (leaf for leaf in leaves if len(leaf[0]) == 1))
    if isinstance(value, str) and styles[path] == "single" and "\n" not in value:
        assert "'" + value.replace("'", "''") + "'" in new_lines[line], "single quotes are kept"
    if isinstance(value, str) and styles[path] == "double":
        assert json.dumps(value, ensure_ascii=False) in new_lines[line], "double quotes are kept"


def test_a_new_key_in_a_block_file_goes_through_the_round_trip_and_keeps_everything_else() -> None:
    text = "kind: Tenant\nspec:\n  # why\n  plan: free  # note\n  labels: {a: b}\n"
    edited = edit_text(text, [(0, ("spec", "trialDays"), 14)])
    assert edited == text + "  trialDays: 14\n"
    assert edit_text(text, [(0, ("spec", "labels"), {"a": "c d"})]) == text.replace("{a: b}", "{a: c d}")
