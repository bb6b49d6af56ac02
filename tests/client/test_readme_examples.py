"""The README's "Python client" examples run against the real server, and print exactly the
output the README shows under each of them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.client.conftest import sandbox_base
from tests.conftest import LiveServer
from tests.web.conftest import Users

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("\n## Python client\n", 1)[1].split("\n## ", 1)[0]
EXAMPLES = re.findall(r"```python\n(.*?)```\n\n```text\n(.*?)```", SECTION, flags=re.S)


def test_the_section_has_its_examples() -> None:
    assert len(EXAMPLES) == 5
    assert len(re.findall(r"```python\n", SECTION)) == len(EXAMPLES)  # each shows its output
    config = re.search(r"```toml\n(.*?)```", SECTION, flags=re.S)
    assert config is not None
    assert set(tomllib.loads(config.group(1))) == {"env", "username", "password"}


@pytest.mark.usefixtures("test_fixtures")
@pytest.mark.parametrize(("code", "output"), EXAMPLES, ids=[f"example{i}" for i in range(5)])
def test_readme_example_runs_and_prints_what_the_readme_shows(
    code: str,
    output: str,
    server: LiveServer,
    users: Users,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("SAGLIK_CLIENT_BASE_URL", sandbox_base(server))
    monkeypatch.setenv("SAGLIK_CLIENT_USERNAME", users.test.username)
    monkeypatch.setenv("SAGLIK_CLIENT_PASSWORD", users.test.password)
    monkeypatch.setenv("SAGLIK_CLIENT_CONFIG", str(tmp_path / "absent.toml"))
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})  # noqa: S102
    assert capsys.readouterr().out == output
