"""Property: whatever structure a storyboard file holds, `wanflow validate` answers 0 or 2, never a traceback.

Hypothesis starts from a valid storyboard and replaces parts of it with anything YAML can say
(numbers of any size, NaN, text with control characters, paths out of the repository, deep
lists and mappings, keys the format knows in the wrong places), and also writes raw text.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from wanflow.cli.app import app

runner = CliRunner()

VALID: dict[str, Any] = {
    "wanflow": 1,
    "title": "T",
    "lang": "en",
    "defaults": {"duration": 2, "look": {"lighting": ["soft light"]}},
    "characters": {"cat": "a grey cat"},
    "output": {"fps": 24, "size": "1280x720"},
    "titles": {"opening": {"text": "T", "duration": 2}},
    "profiles": {"mine": {"backend": "ti2v-5b", "steps": 8, "size": "640x352"}},
    "scenes": [
        {
            "id": "a",
            "shots": [
                {"id": "s1", "subject": "{cat}", "action": "sleeps", "transition": "dissolve"},
                {"id": "s2", "subject": "x", "continue_from": "s1", "trim": {"start": 0.5}, "speed": 2},
            ],
        }
    ],
}
KEYS = [
    "wanflow", "title", "lang", "defaults", "characters", "output", "titles", "profiles", "scenes", "shots", "id",
    "subject", "action", "duration", "frames", "look", "lighting", "image", "lora", "file", "scale", "speed", "hold",
    "trim", "start", "end", "seed", "size", "steps", "fps", "soundtrack", "volume", "extend", "transition", "type",
    "continue_from", "backend", "max_frames", "caption", "prompt", "negative", "text", "opening", "crf", "fit",
]  # fmt: skip
PATHS = [
    "../x.png",
    "/etc/passwd",
    "~/a.wav",
    "start.png",
    "a\0b.png",
    "x" * 5000,
    "..",
    "/dev/zero",
    "nul.safetensors",
]

scalars = st.one_of(
    st.integers(min_value=0, max_value=300),  # plausible values, so some variants are valid storyboards
    st.floats(min_value=0, max_value=30),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.integers(min_value=1, max_value=6000).map(lambda digits: f"@@DIGITS{digits}@@"),  # written unquoted, below
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["1280x720", "100000x100000", "0x0", "dissolve", "柔光", "ti2v-5b", "a\n", "{nobody}", *PATHS]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=30,
)


def _paths(node: Any, here: tuple = ()) -> list[tuple]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*here, index))
    return found


def _replace(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[head] = _replace(copy[head], tuple(rest), value)
    return copy


@st.composite
def storyboards(draw: st.DrawFn) -> Any:
    """The valid storyboard with a few of its parts replaced by anything."""
    data: Any = VALID
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(_paths(data)))
        data = _replace(data, path, draw(values))
    return data


def _validate(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "film.yaml"
        spec.write_text(text, encoding="utf-8", errors="surrogatepass")
        (Path(folder) / "start.png").write_bytes(b"not really a png")
        result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stderr and all(line.startswith("error: ") for line in result.stderr.splitlines())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(storyboards())
@example({"\n": {"\x1f": None}})  # found by this test: a key with a newline printed as two lines
@example({**VALID, "scenes": [{"id": "a", "shots": [{"id": "@@DIGITS65@@"}]}]})  # found: a long numeric id crashed
def test_validate_answers_0_or_2_for_any_structure(data: Any) -> None:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)
    _validate(re.sub(r"'?@@DIGITS(\d+)@@'?", lambda match: "9" * int(match.group(1)), text))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("wanflow: 1\ntitle-[]{},&*!|>'\"#%@`\t \\0x9é柔"), max_size=200))
def test_validate_answers_0_or_2_for_any_text(text: str) -> None:
    _validate(text)
