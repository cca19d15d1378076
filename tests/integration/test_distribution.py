"""The distribution as an application gets it: the wheel built from this tree, installed without
extras into a fresh venv, and used from the root of an application that has its own `config/` and
`cli/` packages (as a cookiecutter-django project does) to send a message to the running stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import received
from tests.integration.stack import Running

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# What only the worker side and the CLI need; an application that enqueues must not get them.
NOT_FOR_APPLICATIONS = {"aiohttp", "starlette", "uvicorn", "typer", "rich"}
TEXT = "Hello from the app's own config"

APP_CONFIG = f'''"""The application's own settings package, which smsq must never shadow or be shadowed by."""
OWNER = "app"
GREETING = {TEXT!r}
'''
APP_CLI = '"""The application\'s own command-line package."""\nOWNER = "app"\n'
APP_MAIN = """\
import json
import sys
import time

from smsq.config.settings import load_settings
from smsq.producers import Smsq
import smsq.config

import cli  # the application's own packages, imported after smsq's
import config

smsq_client = Smsq.from_settings(load_settings())
receipt = smsq_client.send(
    {"to": "+37251234567", "messages": [{"channel": "sms", "text": config.GREETING, "sender": "App"}]}
)
deadline = time.monotonic() + 30
status = smsq_client.result(receipt.message_id).status
while status in ("queued", "sending") and time.monotonic() < deadline:
    time.sleep(0.1)
    status = smsq_client.result(receipt.message_id).status
print(json.dumps({
    "config": [config.OWNER, config.__file__],
    "cli": [cli.OWNER, cli.__file__],
    "smsq_config": smsq.config.__file__,
    "message_id": receipt.message_id,
    "status": status,
    "imported": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


def source_files() -> set[str]:
    """Files the distribution must hold: everything under smsq/ (through its links) but documentation."""
    found = set()
    for folder, dirs, files in os.walk(REPO / "smsq", followlinks=True):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        found |= {str((Path(folder) / name).relative_to(REPO)) for name in files if not name.endswith(".md")}
    return found


@dataclass
class BaseInstall:
    wheel: Path
    python: Path
    site_packages: Path

    def run(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
        )


def checked(argv: list[str], **options: object) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, **options)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def base_install(tmp_path_factory: pytest.TempPathFactory) -> BaseInstall:
    root = tmp_path_factory.mktemp("distribution")
    # Build from a copy of the tree as it is (committed or not), so no build/ or egg-info lands here.
    source = root / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench"))  # fmt: skip
    checked([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(source)])
    (wheel,) = (root / "dist").glob("smsq-*.whl")
    checked([sys.executable, "-m", "venv", str(root / "venv")])
    python = root / "venv" / "bin" / "python"
    checked(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)]
    )  # no extras
    (site_packages,) = (root / "venv" / "lib").glob("python3*/site-packages")
    return BaseInstall(wheel, python, site_packages)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app")
    for package, text in (("config", APP_CONFIG), ("cli", APP_CLI)):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text(text)
    (root / "main.py").write_text(APP_MAIN)
    return root


def test_the_wheel_and_the_install_hold_one_top_level_name(base_install: BaseInstall) -> None:
    with zipfile.ZipFile(base_install.wheel) as wheel:
        in_wheel = {name.split("/")[0] for name in wheel.namelist()}
    assert {name for name in in_wheel if not name.endswith(".dist-info")} == {"smsq"}

    (dist_info,) = base_install.site_packages.glob("smsq-*.dist-info")
    assert (dist_info / "top_level.txt").read_text().split() == ["smsq"]
    recorded = [line.split(",")[0] for line in (dist_info / "RECORD").read_text().splitlines()]
    installed = {path.split("/")[0] for path in recorded if not path.startswith("..")}  # ../../bin: scripts
    assert installed - {dist_info.name} == {"smsq"}
    # Every module and data file of every folder is in it (a folder without __init__.py, or data
    # without a package-data rule, would be left out silently); the folders' READMEs are not.
    shipped = {path for path in recorded if path.startswith("smsq/") and "__pycache__" not in path}
    assert shipped == source_files() and "smsq/cli/main.py" in shipped


def test_the_base_install_brings_no_server_and_no_cli_packages(
    base_install: BaseInstall, tmp_path: Path
) -> None:
    listing = base_install.run("-c", "import importlib.metadata as m, json; "
                               "print(json.dumps([d.metadata['Name'] for d in m.distributions()]))", cwd=tmp_path)  # fmt: skip
    names = {name.lower().replace("_", "-") for name in json.loads(listing.stdout)}
    assert {"smsq", "celery", "redis", "pydantic-settings", "phonenumbers"} <= names
    assert names & NOT_FOR_APPLICATIONS == set()
    # The console script is there, and says which extra it needs instead of a traceback.
    command = subprocess.run([str(base_install.python.parent / "smsq"), "status", "x"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert command.returncode != 0 and "Traceback" not in command.stderr
    assert command.stderr.strip() == (
        'error: the smsq command needs the cli extra: pip install "smsq[cli]" (typer is not installed)'
    )


@pytest.mark.timeout(300)
def test_an_app_with_its_own_config_and_cli_sends_through_the_base_install(
    base_install: BaseInstall, app: Path, running: Running, sandbox: httpx.Client
) -> None:
    env = {name: value for name, value in running.env.items() if name.startswith("SMSQ_")}
    env.update(PATH=str(base_install.python.parent), HOME=str(app))  # no PYTHONPATH: only the venv
    done = base_install.run("main.py", cwd=app, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert report["config"] == ["app", str(app / "config" / "__init__.py")]
    assert report["cli"] == ["app", str(app / "cli" / "__init__.py")]
    assert Path(report["smsq_config"]).is_relative_to(base_install.site_packages / "smsq")
    assert report["status"] == "sent"
    assert set(report["imported"]) & NOT_FOR_APPLICATIONS == set()
    # The worker sent it over the wire, with the text the app's own config gave it.
    assert running.smsq().result(report["message_id"]).status in {"sent", "delivered"}
    texts = [part["text"] for request in received(sandbox) for part in request["body"]["messages"]]
    assert texts == [TEXT]
