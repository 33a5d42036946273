"""A small shell lexer for runbook blocks: simple commands with their words and lines, variable uses and
assignments, ``$(...)`` and backquote substitutions, line continuations, comments, heredocs and ``<placeholders>``.

Not a shell: enough to check what a runbook's commands would do (which ``aws`` call, which flags, which
variables) and cite the line. Every line number is the document's (a block starts at its first line).
This module is a tokenizer by nature: its one long function is a character loop, split where it can be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGN_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=")
PLACEHOLDER_RE = re.compile(r"<([A-Za-z][\w.-]*)>")
SPECIAL_VARS = frozenset("@*#?$!-0123456789")
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "{", "}", "!", "time"})
DEFAULT_OPS = (":-", ":=", ":+", ":?", "-", "=", "+", "?")


@dataclass(frozen=True)
class Word:
    """One word: its source text (quotes kept) and its value with the quotes removed (nothing expanded)."""

    text: str
    value: str
    line: int


@dataclass(frozen=True)
class VarRef:
    """A use of ``$NAME`` / ``${NAME...}``; ``guarded`` when it has a default (``${X:-y}``) or tests (``${#X}``)."""

    name: str
    line: int
    guarded: bool


@dataclass(frozen=True)
class Assign:
    """``NAME=value``, ``for NAME in ...``, ``read NAME``, ``export NAME=...``: where a variable gets a value."""

    name: str
    line: int
    values: tuple[str, ...]  # literal values (quotes removed) when known; for-loops give one per item


@dataclass(frozen=True)
class Placeholder:
    """``<function-name>``: a value the reader must fill in."""

    name: str
    line: int
    command: str  # the command word it appears under (echo/printf usage lines are not placeholders)


@dataclass
class Command:
    """One simple command: its words after any ``NAME=value`` prefixes, its line, and its pipeline's id."""

    words: list[Word]
    line: int
    pipeline: int
    depth: int = 0  # 0 at top level, 1 inside a $(...), ...
    assigns: list[Word] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The command word (``aws``, ``date``), or empty."""
        return self.words[0].value if self.words else ""

    @property
    def argv(self) -> list[str]:
        """The words' values."""
        return [w.value for w in self.words]

    def text(self) -> str:
        """The command as written (one line)."""
        return " ".join(w.text for w in self.words)


@dataclass
class Script:
    """What the lexer found in one block."""

    commands: list[Command] = field(default_factory=list)
    refs: list[VarRef] = field(default_factory=list)
    assigns: list[Assign] = field(default_factory=list)
    placeholders: list[Placeholder] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)


def _matching(text: str, i: int, open_: str, close: str) -> int:
    """Index of the ``close`` matching the ``open_`` at ``i`` (quotes respected), or len(text)."""
    depth, j, quote = 0, i, ""
    while j < len(text):
        c = text[j]
        if quote:
            if c == "\\" and quote == '"':
                j += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "\\":
            j += 1
        elif c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return len(text)


class _Lexer:
    """The character loop; one instance per text (nested substitutions get their own, sharing the Script)."""

    def __init__(self, text: str, line: int, out: Script, depth: int, counter: list[int]) -> None:
        self.t, self.i, self.line, self.out, self.depth = text, 0, line, out, depth
        self.counter = counter  # pipeline ids, shared across nested lexers
        self.words: list[Word] = []
        self.cmd_line = line
        self.pending_heredocs: list[tuple[str, bool]] = []
        self.pipeline = self._next_pipeline()

    def _next_pipeline(self) -> int:
        self.counter[0] += 1
        return self.counter[0]

    # -- variables -----------------------------------------------------------------------------------------
    def _dollar(self, buf: list[str]) -> None:
        """At ``$``: a variable use, ``$(...)``, ``$((...))`` or ``${...}``; appends the source text to ``buf``."""
        t, i = self.t, self.i
        nxt = t[i + 1] if i + 1 < len(t) else ""
        if nxt == "(":
            end = _matching(t, i + 1, "(", ")")
            inner = t[i + 2 : end]
            if not inner.startswith("("):  # $((arithmetic)) names variables without $
                _Lexer(inner, self.line, self.out, self.depth + 1, self.counter).run()
            buf.append(t[i : end + 1])
            self.line += t[i : end + 1].count("\n")
            self.i = end + 1
            return
        if nxt == "{":
            end = _matching(t, i + 1, "{", "}")
            body = t[i + 2 : end]
            name_m = NAME_RE.match(body.lstrip("#!"))
            if name_m:
                rest = body.lstrip("#!")[name_m.end() :]
                guarded = body.startswith("#") or rest.startswith(DEFAULT_OPS)
                self.out.refs.append(VarRef(name_m.group(0), self.line, guarded))
                if rest:
                    for m in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", rest):
                        self.out.refs.append(VarRef(m.group(1), self.line, True))
            buf.append(t[i : end + 1])
            self.i = end + 1
            return
        plain = NAME_RE.match(t, i + 1)
        if plain:
            self.out.refs.append(VarRef(plain.group(0), self.line, False))
            buf.append(t[i : plain.end()])
            self.i = plain.end()
            return
        if nxt in "123456789" and nxt:  # a script's argument: the rehearsal binds it from --arg
            self.out.refs.append(VarRef(nxt, self.line, False))
        buf.append("$" + (nxt if nxt in SPECIAL_VARS else ""))
        self.i += 2 if nxt in SPECIAL_VARS else 1

    # -- words ---------------------------------------------------------------------------------------------
    def _word(self) -> Word | None:
        """Read one word at ``self.i`` (quotes, escapes, substitutions, placeholders); None at an operator."""
        t = self.t
        text: list[str] = []
        value: list[str] = []
        start = self.line
        while self.i < len(t):
            c = t[self.i]
            if c == "(" and not self.words and ASSIGN_RE.match("".join(text)) and "".join(text).endswith("="):
                self._array_body(text, value)
                continue
            if c == "<" and self._placeholder(text, value):
                continue
            if c in " \t\n;&|()<>":
                break
            if c == "'":
                end = t.find("'", self.i + 1)
                end = len(t) if end < 0 else end
                text.append(t[self.i : end + 1])
                value.append(t[self.i + 1 : end])
                self.line += t[self.i : end].count("\n")
                self.i = end + 1
            elif c == '"':
                self._double(text, value)
            elif c == "\\":
                text.append(t[self.i : self.i + 2])
                value.append(t[self.i + 1 : self.i + 2])
                self.i += 2
            elif c == "$":
                before = len(text)
                self._dollar(text)
                value.extend(text[before:])
            elif c == "`":
                end = t.find("`", self.i + 1)
                end = len(t) if end < 0 else end
                _Lexer(t[self.i + 1 : end], self.line, self.out, self.depth + 1, self.counter).run()
                text.append(t[self.i : end + 1])
                value.append(t[self.i : end + 1])
                self.i = end + 1
            else:
                text.append(c)
                value.append(c)
                self.i += 1
        if not text:
            return None
        return Word("".join(text), "".join(value), start)

    def _double(self, text: list[str], value: list[str]) -> None:
        t = self.t
        text.append('"')
        self.i += 1
        while self.i < len(t) and t[self.i] != '"':
            c = t[self.i]
            if c == "\\" and self.i + 1 < len(t):
                text.append(t[self.i : self.i + 2])
                value.append(t[self.i + 1])
                self.i += 2
            elif c == "$":
                before = len(text)
                self._dollar(text)
                value.extend(text[before:])
            elif c == "<" and self._placeholder(text, value):
                continue
            else:
                if c == "\n":
                    self.line += 1
                text.append(c)
                value.append(c)
                self.i += 1
        text.append('"')
        self.i += 1

    def _placeholder(self, text: list[str], value: list[str]) -> bool:
        """At ``<``: a ``<placeholder>`` is part of the word (recorded); anything else is a redirection."""
        m = PLACEHOLDER_RE.match(self.t, self.i) if self.t[self.i] == "<" else None
        if not m:
            return False
        command = self.words[0].value if self.words else ""
        self.out.placeholders.append(Placeholder(m.group(1), self.line, command))
        text.append(m.group(0))
        value.append(m.group(0))
        self.i = m.end()
        return True

    def _array_body(self, text: list[str], value: list[str]) -> None:
        """``NAME=(a b c)``: the elements are literal values of NAME (one Assign with every item)."""
        end = _matching(self.t, self.i, "(", ")")
        body = self.t[self.i + 1 : end]
        name = "".join(text)[:-1]
        items = []
        for raw in body.splitlines():
            raw = raw.split("#", 1)[0] if raw.lstrip().startswith("#") else raw
            items += [x.strip("\"'") for x in raw.split()]
        for m in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", body):
            self.out.refs.append(VarRef(m.group(1), self.line, False))
        self.out.assigns.append(Assign(name.split("[")[0], self.line, tuple(items)))
        text.append("(" + body + ")")
        value.append("(" + body + ")")
        self.line += body.count("\n")
        self.i = end + 1

    # -- commands ------------------------------------------------------------------------------------------
    def _end_command(self, case_pattern: bool = False) -> None:
        words, self.words = self.words, []
        if case_pattern or not words:
            return
        assigns: list[Word] = []
        while words and ASSIGN_RE.match(words[0].value) and not words[0].text.startswith(("'", '"')):
            assigns.append(words.pop(0))
        while words and words[0].value in KEYWORDS:
            words.pop(0)
        for w in assigns:
            m = ASSIGN_RE.match(w.value)
            if m and "=(" not in w.text:
                self.out.assigns.append(Assign(m.group(1), w.line, (w.value[m.end() :],)))
        self._declarations(words)
        if words:
            self.out.commands.append(Command(words, words[0].line, self.pipeline, self.depth, assigns))

    def _declarations(self, words: list[Word]) -> None:
        """export/local/declare/readonly/read/for/function: the names they assign."""
        if not words:
            return
        head = words[0].value
        if head in ("export", "local", "declare", "readonly", "typeset"):
            for w in words[1:]:
                m = ASSIGN_RE.match(w.value) or NAME_RE.fullmatch(w.value)
                if m and not w.value.startswith("-"):
                    name = m.group(1) if m.re is ASSIGN_RE else m.group(0)
                    self.out.assigns.append(Assign(name, w.line, (w.value[m.end() :],) if m.re is ASSIGN_RE else ()))
        elif head == "read":
            for w in words[1:]:
                if NAME_RE.fullmatch(w.value):
                    self.out.assigns.append(Assign(w.value, w.line, ()))
        elif head == "for" and len(words) >= 2 and NAME_RE.fullmatch(words[1].value):
            items = tuple(w.value for w in words[3:]) if len(words) > 2 and words[2].value == "in" else ()
            self.out.assigns.append(Assign(words[1].value, words[1].line, items))
        elif head == "function" and len(words) >= 2:
            self.out.functions.append(words[1].value.rstrip("()"))
        elif len(words) == 1 and words[0].value.endswith("()"):
            self.out.functions.append(words[0].value[:-2])

    def _redirect(self) -> None:
        """``>``, ``>>``, ``2>&1``, ``<``, ``<<EOF``: skip the operator and its target (a heredoc body comes later)."""
        t = self.t
        if t.startswith("<<", self.i) and not t.startswith("<<<", self.i):
            self.i += 2
            self.i += 1 if self.i < len(t) and t[self.i] == "-" else 0
            while self.i < len(t) and t[self.i] in " \t":
                self.i += 1
            word = self._word()
            if word:
                self.pending_heredocs.append((word.value, word.text != word.value))
            return
        while self.i < len(t) and t[self.i] in "<>&|":
            self.i += 1
        while self.i < len(t) and t[self.i] in " \t":
            self.i += 1
        self._word()

    def _heredocs(self) -> None:
        """Consume pending heredoc bodies after a newline (variables expand unless the delimiter was quoted)."""
        for delim, quoted in self.pending_heredocs:
            while self.i < len(self.t):
                end = self.t.find("\n", self.i)
                end = len(self.t) if end < 0 else end
                line = self.t[self.i : end]
                self.i = end + 1
                self.line += 1
                if line.strip() == delim:
                    break
                if not quoted:
                    for m in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", line):
                        self.out.refs.append(VarRef(m.group(1), self.line - 1, False))
        self.pending_heredocs = []

    def run(self) -> None:
        """Lex the whole text into the shared Script."""
        t = self.t
        parens = 0
        while self.i < len(t):
            c = t[self.i]
            if t.startswith("\\\n", self.i):
                self.i += 2
                self.line += 1
            elif c in " \t":
                self.i += 1
            elif c == "#" and (self.i == 0 or t[self.i - 1] in " \t\n;&|("):
                end = t.find("\n", self.i)
                self.i = len(t) if end < 0 else end
            elif c == "\n":
                self._end_command()
                self.pipeline = self._next_pipeline()
                self.i += 1
                self.line += 1
                self._heredocs()
            elif c in ";&":
                self._end_command()
                self.i += 2 if t.startswith(("&&", ";;"), self.i) else 1
                self.pipeline = self._next_pipeline() if c == ";" or t.startswith(";;", self.i - 2) else self.pipeline
            elif c == "|":
                self._end_command()
                self.i += 2 if t.startswith("||", self.i) else 1
            elif c == "(":
                parens += 1
                self._end_command()
                self.i += 1
            elif c == ")":
                self._end_command(case_pattern=parens == 0)
                parens = max(0, parens - 1)
                self.i += 1
            elif c in "<>" or (c.isdigit() and self._fd_redirect()):
                if c == "<" and PLACEHOLDER_RE.match(t, self.i):
                    self._take_word()
                elif t.startswith("<(", self.i):
                    end = _matching(t, self.i + 1, "(", ")")
                    _Lexer(t[self.i + 2 : end], self.line, self.out, self.depth + 1, self.counter).run()
                    self.i = end + 1
                else:
                    self._redirect()
            else:
                self._take_word()
        self._end_command()

    def _fd_redirect(self) -> bool:
        m = re.match(r"\d+[<>]", self.t[self.i :])
        if m and (self.i == 0 or self.t[self.i - 1] in " \t"):
            self.i += m.end() - 1
            return True
        return False

    def _take_word(self) -> None:
        if not self.words:
            self.cmd_line = self.line
        before = self.i
        word = self._word()
        if word is not None:
            self.words.append(word)
        elif self.i == before:
            self.i += 1


def lex(text: str, line: int = 1) -> Script:
    """Lex ``text`` (a block starting at document line ``line``)."""
    out = Script()
    _Lexer(text, line, out, 0, [0]).run()
    return out
