"""README.md and WORKSPACE.md against the code: every command pastes as it is into a shell,
names modules, files and flags that exist and no old flag name; the console scripts are
setup.cfg's; the departures table names every departure; the Python example calls the API
with its own keywords; every link to a section reaches one. Read from the files' text (the
sources are parsed, not imported)."""

import ast
import configparser
import os
import re
import shlex

import markdown_sections
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ("README.md", "WORKSPACE.md")
# absl's own flags, which every program has.
ABSL_FLAGS = {"verbosity", "v", "help", "helpfull", "helpshort", "flagfile", "logtostderr"}
# Keywords the API keeps for one release, which the documents must not teach.
OLD_KEYWORDS = {"noise"}
# Fenced blocks of these languages are commands to paste; every block names its language.
SHELL = "sh"
# Inline code that is a command (the rest is names and values).
COMMAND_START = re.compile(r"^(\.venv/bin/)?(python -m |inbetweening|launch/|PYTHONPATH=)")


def _read(path: str) -> str:
    with open(os.path.join(REPO, path)) as handle:
        return handle.read()


def _fenced(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return re.findall(r"^ *```(\w*)\n(.*?)^ *```", text, flags=re.M | re.S)


def _prose(text: str) -> str:
    return re.sub(r"^ *```.*?^ *```", "", text, flags=re.M | re.S)


def _section(text: str, title: str) -> str:
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", text, flags=re.M | re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


def _commands(text: str, inline: bool = True) -> list[list[str]]:
    """The shell words of every command: each line of the sh blocks (backslash-continued
    lines joined, comments dropped) and, with `inline`, the inline code that starts like a
    command."""
    lines = []
    for language, body in _fenced(text):
        if language == SHELL:
            lines += body.replace("\\\n", " ").splitlines()
    if inline:
        spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", _prose(text)))
        lines += [span for span in spans if COMMAND_START.match(span)]
    return [words for words in (shlex.split(line, comments=True) for line in lines) if words]


def _module_of(words: list[str], scripts: dict[str, str]) -> str | None:
    """The inbetweening module a command runs: `python -m inbetweening.X` or a console
    script."""
    for index, word in enumerate(words[:-1]):
        if word == "-m" and words[index + 1].startswith("inbetweening"):
            return words[index + 1]
    first = [w for w in words if "=" not in w or w.startswith("-")][:1]
    return scripts.get(first[0]) if first else None


def _console_scripts() -> dict[str, str]:
    """{script: module} of setup.cfg."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "setup.cfg"))
    lines = parser["options.entry_points"]["console_scripts"].strip().splitlines()
    pairs = (line.split("=") for line in lines)
    return {name.strip(): target.strip().split(":")[0] for name, target in pairs}


def _module_file(module: str) -> str:
    return os.path.join(*module.split(".")) + ".py"


def _flags_of(module: str) -> tuple[set[str], set[str]]:
    """(flag names the module defines, its old names kept for one release), from its source
    and that of the modules whose define_flags() it calls."""
    source = _read(_module_file(module))
    for called in re.findall(r"(\w+)\.define_flags\(\)", source):
        source += _read(_module_file(f"inbetweening.runtime.{called}"))
    defined = set(re.findall(r"DEFINE_\w+\(\s*\"(\w+)\"", source))
    old = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "RENAMED_FLAGS":
            old = set(ast.literal_eval(node.value))
    return defined, old


def _departures() -> dict[str, list[str]]:
    """{name: the fields it switches on} of every Departure(...) in config/departures.py."""
    tree = ast.parse(_read(os.path.join("inbetweening", "config", "departures.py")))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Departure":
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            on = ast.literal_eval(keywords["on"])
            found[ast.literal_eval(keywords["name"])] = list(on)
    return found


def _parameters(path: str, names: tuple[str, ...]) -> dict[str, set[str]]:
    """{method: its parameter names} of the functions `names` defined in `path`."""
    found = {}
    for node in ast.walk(ast.parse(_read(path))):
        if isinstance(node, ast.FunctionDef) and node.name in names:
            found[node.name] = {a.arg for a in node.args.args + node.args.kwonlyargs}
    return found


@pytest.mark.parametrize("path", DOCS)
def test_every_code_block_names_its_language(path):
    assert all(language for language, _ in _fenced(_read(path))), path


def test_readme_commands_paste_as_they_are():
    commands = _commands(_read("README.md"))
    assert len(commands) > 20
    for words in commands:
        for word in words:
            # `--a=x|y` is a pipe to the shell; `[--opt]` a glob or a command not found.
            assert "|" not in word or word in ("|", "||"), words
            assert not word.startswith("[") and not (word.endswith("]") and "[" not in word), words
    flag_spans = re.findall(r"`(--[^`]+)`", _prose(_read("README.md")))
    assert all("|" not in span for span in flag_spans), flag_spans


@pytest.mark.parametrize("path", DOCS)
def test_commands_name_modules_and_files_that_exist(path):
    scripts = _console_scripts()
    for words in _commands(_read(path)):
        module = _module_of(words, scripts)
        if module:
            assert os.path.isfile(os.path.join(REPO, _module_file(module))), words
        for word in words:
            value = word.split("=", 1)[-1]
            if re.match(r"^(configs|benchmarks|launch)/[\w./-]+$", value):
                assert os.path.exists(os.path.join(REPO, value)), words


@pytest.mark.parametrize("path", DOCS)
def test_commands_use_flags_their_module_defines_by_their_current_names(path):
    scripts = _console_scripts()
    checked = set()
    for words in _commands(_read(path)):
        module = _module_of(words, scripts)
        if not module or not os.path.isfile(os.path.join(REPO, _module_file(module))):
            continue  # the test above names it
        defined, old = _flags_of(module)
        for word in words:
            if not word.startswith("--"):
                continue
            name = word[2:].split("=")[0]
            if name.startswith("config.") and "config" in defined:
                continue
            assert name not in old, f"{module}: --{name} is an old name ({words})"
            assert name in defined | ABSL_FLAGS, f"{module} has no --{name} ({words})"
            checked.add(module)
    if path == "README.md":
        assert {
            "inbetweening.main",
            "inbetweening.sample",
            "inbetweening.export",
            "inbetweening.tools.probe",
        } <= checked


def test_readme_lists_every_console_script():
    install = _section(_read("README.md"), "Install as a library")
    listed = set(re.findall(r"`(inbetweening(?:-[a-z]+)?)`", install))
    assert listed == set(_console_scripts())


def test_readme_departures_table_is_config_departures():
    section = _section(_read("README.md"), "Departures from the paper")
    rows = {
        match.group(1): line
        for line in section.splitlines()
        if (match := re.match(r"^\| `(\w+)`", line))
    }
    departures = _departures()
    assert set(rows) == set(departures)
    for name, fields in departures.items():
        for field in fields:
            assert f"`{field}=" in rows[name], (name, field)


def test_readme_python_calls_the_api_with_its_keywords():
    parameters = _parameters(os.path.join("inbetweening", "api.py"), ("sample", "sample_sequence"))
    assert set(parameters) == {"sample", "sample_sequence"}
    called = set()
    for language, body in _fenced(_read("README.md")):
        if language != "python":
            continue
        for node in ast.walk(ast.parse(body)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in parameters:
                keywords = {keyword.arg for keyword in node.keywords}
                assert keywords <= parameters[node.func.attr] - OLD_KEYWORDS, keywords
                called.add(node.func.attr)
    assert called == set(parameters)


def test_readme_tables_say_best_of_8():
    headers = re.findall(r"^(\|.*\|)\n\|[-| ]+\|$", _read("README.md"), flags=re.M)
    assert headers
    assert not [header for header in headers if "best-of-N" in header], headers


@pytest.mark.parametrize("path", DOCS)
def test_links_to_sections_reach_one(path):
    text = _read(path)
    links = re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text)
    links += re.findall(r"`?(docs/experiments\.md|WORKSPACE\.md)#([\w-]+)", _prose(text))
    assert links or path != "README.md"
    for target, anchor in links:
        linked = _read(target) if target else text
        assert anchor in markdown_sections.anchors(linked), f"{path}: {target}#{anchor}"
