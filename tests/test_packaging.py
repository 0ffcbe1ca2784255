"""Packaging guards for the ``core/`` -> ``llmplex`` folder mapping (docs: style.md §9.1).

The lenient editable install imports anything under ``core/`` and ``providers/``, so a
sub-package missing from ``[tool.setuptools] packages`` works in development and is silently
absent from the wheel. These tests build the real wheel (offline, from a copy of the sources
so that no ``build/`` is left in the tree), check what is in it, install it non-editable and
type-check that copy with ``mypy --strict``, the way a user's type checker sees llmplex.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Source folder -> import name, as mapped by ``package-dir`` in pyproject.toml.
FOLDERS = {"core": "llmplex", "providers": "llmplex.providers", "cassettes": "llmplex.cassettes"}
#: What a wheel build needs from the repository.
BUILD_INPUTS = ["pyproject.toml", "README.md", "LICENSE", *FOLDERS]
ECHO_PLUGIN = ROOT / "tests" / "plugins" / "llmplex_echo_dist" / "llmplex_echo.py"
#: Files whose mypy errors are this test's own responsibility (the rest are reported as xfail).
OWN_MODULES = {"llmplex/__init__.py", "llmplex/plugins.py", "llmplex/hookspecs.py"}

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT: Dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS: Dict[str, Any] = PYPROJECT["tool"]["setuptools"]


def _env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMPLEX_", "PIP_", "MYPY"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(args: List[str], cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    return result


def package_folders() -> Dict[str, Path]:
    """Every import package the source tree defines: its dotted name -> its folder."""
    found: Dict[str, Path] = {}
    for folder, name in FOLDERS.items():
        base = ROOT / folder
        for init in sorted(base.rglob("__init__.py")):
            relative = init.parent.relative_to(base).parts
            if "__pycache__" in relative:
                continue
            found[".".join((name, *relative))] = init.parent
    return found


def wheel_path(source: Path) -> str:
    """Where a source file lands in the wheel (``core/x.py`` -> ``llmplex/x.py``)."""
    relative = source.relative_to(ROOT)
    top = FOLDERS[relative.parts[0]].replace(".", "/")
    return "/".join((top, *relative.parts[1:]))


def source_files(pattern: str, folders: Iterator[str]) -> List[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob(pattern) if "__pycache__" not in p.parts)


@dataclass
class Built:
    wheel: Path
    names: Set[str]
    site: Path
    tmp: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for item in BUILD_INPUTS:
        path = ROOT / item
        if path.is_dir():
            shutil.copytree(path, source / item, ignore=ignore)
        else:
            shutil.copy2(path, source / item)
    had_build = (ROOT / "build").exists()
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp / "dist"), "."], source, _env())
    assert (ROOT / "build").exists() == had_build, "the wheel build must not write build/ into the repository"
    (wheel,) = (tmp / "dist").glob("llmplex-*.whl")
    site = tmp / "site"
    _run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], tmp, _env())
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    return Built(wheel, names, site, tmp)


# -- pyproject.toml against the tree -----------------------------------------------------------


def test_setuptools_packages_lists_exactly_the_package_folders() -> None:
    declared = SETUPTOOLS["packages"]
    assert len(declared) == len(set(declared)), "a package is listed twice"
    assert sorted(declared) == sorted(package_folders()), (
        "[tool.setuptools] packages must list every folder with an __init__.py under core/, providers/, "
        "cassettes/ (an unlisted one is importable in the editable install but missing from the wheel)"
    )


def test_package_dir_maps_the_three_folders() -> None:
    assert SETUPTOOLS["package-dir"] == {name: folder for folder, name in FOLDERS.items()}


def test_py_typed_exists() -> None:
    assert (ROOT / "core" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["llmplex"]


# -- the wheel ---------------------------------------------------------------------------------


def test_wheel_contains_every_package_and_module(built: Built) -> None:
    for name, folder in package_folders().items():
        assert f"{name.replace('.', '/')}/__init__.py" in built.names, f"package {name} ({folder}) is not in the wheel"
    missing = [wheel_path(p) for p in source_files("*.py", iter(FOLDERS)) if wheel_path(p) not in built.names]
    assert missing == []


def test_wheel_ships_py_typed_and_every_cassette(built: Built) -> None:
    assert "llmplex/py.typed" in built.names
    data = [p for p in source_files("*", iter(["cassettes"])) if p.is_file() and p.suffix != ".py"]
    assert data, "no cassette found"
    missing = [wheel_path(p) for p in data if wheel_path(p) not in built.names]
    assert missing == [], "cassettes missing from the wheel: widen [tool.setuptools.package-data]"


def test_wheel_has_no_folder_named_packages_and_nothing_stale(built: Built) -> None:
    tops = {name.split("/")[0] for name in built.names}
    assert tops == {"llmplex", f"llmplex-{PYPROJECT['project']['version']}.dist-info"}
    sources = {wheel_path(p) for p in source_files("*", iter(FOLDERS)) if p.is_file()}
    extra = sorted(n for n in built.names if n.startswith("llmplex/") and n not in sources)
    assert extra == [], "files in the wheel that are not in the tree (a stale build/lib?)"


def test_wheel_entry_points_match_pyproject(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        text = archive.read(f"llmplex-{PYPROJECT['project']['version']}.dist-info/entry_points.txt").decode()
    sections: Dict[str, Dict[str, str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line:
            key, _, value = line.partition("=")
            sections.setdefault(current, {})[key.strip()] = value.strip()
    assert sections["llmplex"] == PYPROJECT["project"]["entry-points"]["llmplex"]
    assert sections["console_scripts"] == PYPROJECT["project"]["scripts"]


def test_installed_wheel_imports_and_finds_its_providers(built: Built) -> None:
    code = textwrap.dedent(
        """
        import sys
        import llmplex
        from llmplex.plugins.manager import Plugins
        from llmplex.testing.replay import cassette_path
        assert llmplex.__file__.startswith(sys.argv[1]), llmplex.__file__
        plugins = Plugins()
        assert not plugins.failed, plugins.failed
        assert "openai" in plugins.providers, sorted(plugins.providers)
        assert cassette_path("openai/chat_plain.json").is_file()
        print(sorted({p.distribution for p in plugins.providers.values()}))
        """
    )
    # -S: no site-packages, so the editable install cannot shadow the wheel; the runtime
    # dependencies come from the dev venv's site-packages, appended after the wheel.
    import pydantic

    deps = str(Path(pydantic.__file__).resolve().parent.parent)
    env = {**_env(), "PYTHONPATH": os.pathsep.join([str(built.site), deps])}
    result = _run([sys.executable, "-S", "-c", code, str(built.site)], built.tmp, env)
    assert result.stdout.strip() == "['llmplex']"


# -- never imported by folder name -------------------------------------------------------------

_FOLDER_IMPORT = re.compile(r"^\s*(?:from|import)\s+(?:core|providers|cassettes)(?:\.|\s|$)", re.M)


def test_no_source_imports_a_folder_by_name() -> None:
    offenders = []
    for folder in [*FOLDERS, "tests", "benchmarks", "docs"]:
        for path in source_files("*.py", iter([folder])) + source_files("*.md", iter([folder])):
            for match in _FOLDER_IMPORT.finditer(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert offenders == [], "import llmplex / llmplex.providers, never the folder names"


def test_importing_every_module_never_creates_folder_named_modules() -> None:
    import importlib
    import pkgutil

    import llmplex
    import llmplex.providers

    failures = []
    for package in (llmplex, llmplex.providers):
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            try:
                importlib.import_module(info.name)
            except ImportError as exc:  # an optional vendor SDK: not this test's business
                failures.append(f"{info.name}: {exc}")
    assert "core" not in sys.modules and "providers" not in sys.modules and "cassettes" not in sys.modules
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(str(ROOT / "core")) or origin.startswith(str(ROOT / "providers")):
            assert module.__name__.startswith("llmplex"), f"{origin} was imported as {module.__name__}"
    assert failures == []


# -- mypy --strict on the installed copy -------------------------------------------------------

CONSUMER = textwrap.dedent(
    '''
    """What a user's strictly typed code does with llmplex: it must type-check as it reads."""
    from __future__ import annotations

    from typing import List

    import llmplex
    from llmplex import ChatResponse, Client, FixedClock, LLMError, Message, PluginWarning, hookimpl
    from llmplex.client.observe import CallInfo
    from llmplex.plugins.manager import Plugins


    def ask(client: Client, question: str) -> str:
        reply: ChatResponse = client.chat("openai/gpt-4o-mini", [Message.user(question)])
        return reply.text


    def ask_default() -> str:
        return llmplex.chat("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}]).text


    def streamed(client: Client) -> List[str]:
        return [chunk.text for chunk in client.stream("openai/gpt-4o-mini", [Message.user("hi")])]


    class Metrics:
        @hookimpl
        def llmplex_on_error(self, call: CallInfo, error: LLMError) -> None:
            print(call.attempt, error.status)


    def setup() -> Client:
        plugins = Plugins(autoload=False)
        plugins.register_plugin(Metrics(), name="metrics")
        warning: type[Warning] = PluginWarning
        print(warning, llmplex.__version__)
        return llmplex.Client({"providers": {}}, clock=FixedClock(0.0), plugins=plugins)
    '''
)

_MYPY_LINE = re.compile(r"^(?P<file>[^:\n]+\.py):(?P<line>\d+): error: (?P<message>.*)$", re.M)


@pytest.fixture(scope="module")
def mypy_errors(built: Built) -> Dict[str, List[str]]:
    """``mypy --strict -p llmplex`` on the installed wheel, plus a consumer and the echo plugin."""
    pytest.importorskip("mypy")
    work = built.tmp / "mypy"
    work.mkdir()
    (work / "consumer.py").write_text(CONSUMER, encoding="utf-8")
    shutil.copy2(ECHO_PLUGIN, work / "llmplex_echo.py")
    env = {**_env(), "MYPYPATH": str(built.site)}
    args = [
        sys.executable, "-m", "mypy",
        "--config-file", str(ROOT / "pyproject.toml"),  # the project's settings ...
        "--strict",  # ... and strict whatever they say
        "--cache-dir", str(work / ".mypy_cache"),
        "--no-color-output", "--no-error-summary", "--show-error-codes",
        "-p", "llmplex", "-m", "consumer", "-m", "llmplex_echo",  # the cwd is on mypy's search path
    ]  # fmt: skip
    result = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    errors: Dict[str, List[str]] = {}
    for match in _MYPY_LINE.finditer(result.stdout):
        path = Path(match["file"])
        key = path.relative_to(built.site).as_posix() if path.is_absolute() else match["file"]
        key = key.split("site/", 1)[-1]
        errors.setdefault(key, []).append(f"{key}:{match['line']}: {match['message']}")
    if result.returncode != 0 and not errors:
        pytest.fail(f"mypy did not run:\n{result.stdout}\n{result.stderr}")
    return errors


def test_mypy_strict_public_api_as_users_and_plugin_authors_see_it(mypy_errors: Dict[str, List[str]]) -> None:
    mine = {f: lines for f, lines in mypy_errors.items() if f in OWN_MODULES | {"consumer.py", "llmplex_echo.py"}}
    assert mine == {}, "\n".join(line for lines in mine.values() for line in lines)


def test_mypy_strict_whole_installed_package(mypy_errors: Dict[str, List[str]]) -> None:
    assert mypy_errors == {}, "\n".join(line for lines in mypy_errors.values() for line in lines)
