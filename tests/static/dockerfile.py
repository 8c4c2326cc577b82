"""Just enough of Docker's rules to check docker/Dockerfile and .dockerignore without a
Docker engine: instructions and ARG scoping per build stage, `.dockerignore` matching
(moby's patternmatcher: Go filepath.Match syntax plus `**`, the last matching rule wins,
a rule matching a parent directory matches everything below it), and COPY from the
build context into a stage's filesystem.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# The checkout's own heavy folders; .dockerignore must exclude them (checked separately),
# so the context walk skips them instead of listing thousands of files.
NEVER_WALKED = (".git", ".venv")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends in a line continuation"
    return instructions


def substitute(text: str, variables: dict[str, str], *, keep_unknown: bool = False) -> str:
    """Docker's `$VAR` / `${VAR}` replacement. In RUN, Docker does not substitute at all:
    the shell expands ARG/ENV values (exported into its environment) and its own
    variables, so unknown names are kept for the shell (`keep_unknown`)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in variables:
            return variables[name]
        return match.group(0) if keep_unknown else ""

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", replace, text)


def _parse_arg(args: str) -> tuple[str, str | None]:
    name, sep, default = args.partition("=")
    return name.strip(), (default.strip().strip('"').strip("'") if sep else None)


@dataclass
class Copy:
    sources: list[str]
    dest: str
    from_stage: str | None
    chown: str | None
    workdir: str


@dataclass
class Stage:
    name: str | None
    image: str
    runs: list[str] = field(default_factory=list)
    user_at_run: list[str] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)  # ADD and anything unmodelled


def resolve_dockerfile(path: Path) -> list[Stage]:
    """The build stages in order. Pre-FROM ARGs feed FROM lines only, unless re-declared
    inside a stage (then they keep their global default)."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    stage_vars: dict[str, str] = {}
    user, workdir = "root", "/"
    for keyword, args in dockerfile_instructions(path):
        if keyword == "ARG" and not stages:
            name, default = _parse_arg(args)
            global_args[name] = default or ""
        elif keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(name, substitute(parts[0], global_args)))
            stage_vars, user, workdir = {}, "root", "/"
        elif keyword == "ARG":
            name, default = _parse_arg(args)
            stage_vars[name] = default if default is not None else global_args.get(name, "")
        elif keyword == "ENV":
            name, _, value = args.partition("=")
            stage_vars[name.strip()] = value.strip()
        elif keyword == "USER":
            user = substitute(args, stage_vars).split(":")[0]
        elif keyword == "WORKDIR":
            workdir = str(PurePosixPath(workdir) / substitute(args, stage_vars))
        elif keyword == "RUN":
            stages[-1].runs.append(substitute(args, stage_vars, keep_unknown=True))
            stages[-1].user_at_run.append(user)
        elif keyword == "COPY":
            tokens = shlex.split(substitute(args, stage_vars))
            flags = dict(t[2:].split("=", 1) for t in tokens if t.startswith("--") and "=" in t)
            paths = [t for t in tokens if not t.startswith("--")]
            stages[-1].copies.append(Copy(paths[:-1], paths[-1], flags.get("from"), flags.get("chown"), workdir))
        else:
            stages[-1].other.append((keyword, args))
    assert stages, "Dockerfile has no FROM"
    return stages


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell line, split at `&&`, `||`, `;`, `|` outside quotes."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def pip_commands(stage: Stage) -> list[tuple[list[str], str]]:
    """Every `pip ...` / `python -m pip ...` command of the stage's RUN lines, as shell
    tokens (`pip` first), with the user it runs as."""
    found = []
    for run, user in zip(stage.runs, stage.user_at_run, strict=True):
        for tokens in shell_commands(run):
            if tokens[:1] == ["pip"]:
                found.append((tokens, user))
            elif len(tokens) > 2 and tokens[1:3] == ["-m", "pip"]:
                found.append((tokens[2:], user))
    return found


# --------------------------------------------------------------------------- .dockerignore


@dataclass
class _Rule:
    regex: re.Pattern[str]
    exclusion: bool  # a `!` rule: re-includes
    text: str


def _compile(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation of one pattern into a regular expression."""
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def _clean(pattern: str) -> str:
    """Go's filepath.Clean, as moby applies it, and no leading slash."""
    cleaned = str(PurePosixPath(pattern)) if pattern not in ("", ".") else "."
    return cleaned[1:] if len(cleaned) > 1 and cleaned.startswith("/") else cleaned


class DockerIgnore:
    def __init__(self, text: str):
        self.rules: list[_Rule] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            pattern = _clean(line[1:].strip() if exclusion else line)
            self.rules.append(_Rule(_compile(pattern), exclusion, line))

    @classmethod
    def read(cls, path: Path) -> DockerIgnore:
        return cls(path.read_text() if path.is_file() else "")

    def excluded(self, relative: str) -> bool:
        """Whether the context leaves this path out (moby's MatchesOrParentMatches)."""
        parts = PurePosixPath(relative).parts
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        matched = False
        for rule in self.rules:
            if any(rule.regex.match(p) for p in prefixes):
                matched = not rule.exclusion
        return matched


def context_files(root: Path, ignore: DockerIgnore) -> set[str]:
    """Files of the build context (relative POSIX paths)."""
    files = set()
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] in NEVER_WALKED or not path.is_file():
            continue
        rel = relative.as_posix()
        if not ignore.excluded(rel):
            files.add(rel)
    return files


def copy_from_context(stage: Stage, root: Path, files: set[str], target: Path) -> dict[str, list[str]]:
    """Carry out the stage's COPY lines that read the build context, into `target`
    (standing for the stage's `/`). Returns, per source, the context files it copied."""
    copied: dict[str, list[str]] = {}
    for copy in stage.copies:
        if copy.from_stage is not None:
            continue
        dest = PurePosixPath(copy.workdir) / copy.dest
        for source in copy.sources:
            assert not re.search(r"[*?\[]", source), f"COPY source {source!r}: wildcards are not modelled here"
            src = _clean(source)
            below = sorted(f for f in files if f == src or f.startswith(src + "/"))
            copied[source] = below
            for rel in below:
                if rel == src:  # a file: into dest/ keeping its name, or renamed to dest
                    landing = (
                        dest / PurePosixPath(rel).name if copy.dest.endswith("/") or len(copy.sources) > 1 else dest
                    )
                else:  # a directory: its contents go into dest
                    landing = dest / PurePosixPath(rel).relative_to(src)
                out = target / landing.relative_to("/")
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / rel, out)
    return copied
