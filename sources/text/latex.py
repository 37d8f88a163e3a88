"""Simple inline LaTeX as plain text: what arXiv-style abstracts keep of their source.

Read on the Semantic Scholar samples: "a set $W$ on $k$ vertices", "$g_k$-convex", "momentum
$p_\\infty.$", "the commonly used $\\ell_1$ minimization", "as low as $1/16$", "``spread out"".
A model reading "$p_\\infty$" sees dollar signs and backslashes where the paper means p∞.

- A math span is `$...$` (or `$$...$$`) by pandoc's rule, so that prices stay prices: the opening
  `$` has a non-space to its right, the closing one a non-space to its left and no digit after it
  ("$5 and $10" is no span), and a span is at most MAX_SPAN characters on one line.
- Inside a span: Greek letters and common symbols become their characters (\\alpha -> α, \\ell ->
  ℓ, \\infty -> ∞, \\leq -> ≤), \\frac{a}{b} -> a/b, \\sqrt{x} -> √x, font commands keep their
  argument (\\mathcal{N} -> N), ^{2}/_{0} become Unicode super/subscripts when every character has
  one (else x^(n+1)), any other command keeps its name (\\log -> log), grouping braces go.
- Outside spans: \\textit{x}, \\textbf{x}, \\emph{x}, \\texttt{x}, \\textrm{x}, \\mbox{x}, \\url{x} ->
  x; accents (\\'e, \\"{o}) -> é, ö; ``quotes'' -> “quotes”.

Linear: every pattern is a bounded span or a single token, scanned once (frac/sqrt arguments are
brace-free, read in at most two passes); text without "$" or "\\" (or "``") is returned as is.
"""

import re
import unicodedata
from typing import Tuple

MAX_SPAN = 300  # characters inside one $...$: a longer "span" is two prices, not math

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ", "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ",
    "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
_SYMBOLS = {
    "ell": "ℓ", "infty": "∞", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠",
    "approx": "≈", "sim": "~", "simeq": "≃", "cong": "≅", "equiv": "≡", "propto": "∝", "times": "×",
    "cdot": "·", "pm": "±", "mp": "∓", "div": "÷", "ast": "*", "star": "⋆", "circ": "∘", "bullet": "•",
    "to": "→", "rightarrow": "→", "longrightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒",
    "Leftarrow": "⇐", "leftrightarrow": "↔", "Leftrightarrow": "⇔", "mapsto": "↦", "uparrow": "↑",
    "downarrow": "↓", "in": "∈", "notin": "∉", "ni": "∋", "subset": "⊂", "subseteq": "⊆", "supset": "⊃",
    "supseteq": "⊇", "cup": "∪", "cap": "∩", "setminus": "∖", "emptyset": "∅", "varnothing": "∅",
    "forall": "∀", "exists": "∃", "neg": "¬", "wedge": "∧", "land": "∧", "vee": "∨", "lor": "∨",
    "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏", "int": "∫", "oint": "∮", "sqrt": "√",
    "langle": "⟨", "rangle": "⟩", "lceil": "⌈", "rceil": "⌉", "lfloor": "⌊", "rfloor": "⌋",
    "ldots": "…", "cdots": "⋯", "dots": "…", "prime": "′", "hbar": "ℏ", "perp": "⊥", "parallel": "∥",
    "ll": "≪", "gg": "≫", "oplus": "⊕", "otimes": "⊗", "dagger": "†", "degree": "°", "aleph": "ℵ",
    "Re": "ℜ", "Im": "ℑ", "wp": "℘", "top": "⊤", "bot": "⊥", "vert": "|", "mid": "|", "|": "‖",
    "lbrace": "{", "rbrace": "}", "{": "{", "}": "}", "%": "%", "&": "&", "#": "#", "_": "_", "$": "$",
    ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "quad": " ", "qquad": " ", "left": "", "right": "",
    "big": "", "Big": "", "bigg": "", "Bigg": "", "displaystyle": "", "textstyle": "", "limits": "",
    "nolimits": "", "\\": " ",
}
_FONT = frozenset({"mathcal", "mathbb", "mathbf", "mathrm", "mathit", "mathsf", "mathtt", "mathfrak",
                   "boldsymbol", "bm", "text", "textrm", "textit", "textbf", "texttt", "textsf", "textup",
                   "operatorname", "mbox", "hbox", "emph", "rm", "it", "bf", "cal", "hat", "bar", "tilde",
                   "vec", "dot", "ddot", "widehat", "widetilde", "overline", "underline"})
_SUPER = dict(zip("0123456789+-=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ"))
_SUB = dict(zip("0123456789+-=()aeoxhklmnpstij", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼ"))

# $$...$$ or $...$ by pandoc's rule; the content is bounded and on one line
_MATH = re.compile(r"(?<![\\$])(\$\$?)(?=[^\s$])([^$\n]{1,%d}?)(?<=[^\s\\])\1(?!\d)" % MAX_SPAN)
_PLAIN_WORD = re.compile(r"\s[A-Za-z]{3,}\s")  # a space-delimited word of prose (a command has its backslash)
_LETTERS = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")  # a word, not a command's name
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]{0,100})\}\s*\{([^{}]{0,100})\}")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]{0,100})\}")
# one token at a time: a command (name or one symbol), a script with its argument, or a brace
_TOKEN = re.compile(r"\\([A-Za-z]{1,30})|\\(.)|([_^])(?:\{([^{}]{0,60})\}|\\([A-Za-z]{1,30})|([^\s{}\\]))|[{}]")
_FONT_ARG = re.compile(r"\\(?:textit|textbf|emph|texttt|textrm|textsf|textsc|textup|textnormal|mbox|url|"
                       r"underline)\s*\{([^{}]{0,500})\}")
_ACCENT = re.compile(r"""\\(?:([`'"^~=.])\{?([A-Za-z])\}?|([uvHc])\{([A-Za-z])\})""")  # \c{c}, never \cite
_ACCENTS = {"`": "\u0300", "'": "\u0301", '"': "\u0308", "^": "\u0302", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327"}
_QUOTES = re.compile(r"``([^`'\"\n]{1,300})(?:''|\")")


def _script(mark: str, argument: str) -> str:
    table = _SUPER if mark == "^" else _SUB
    if argument and all(ch in table for ch in argument):
        return "".join(table[ch] for ch in argument)
    if len(argument) == 1 and mark == "_":
        return argument  # p_\\infty reads "p∞", g_q "gq": one character needs no marker
    return mark + (argument if len(argument) == 1 else f"({argument})")


def _command(name: str) -> str:
    if name in _GREEK:
        return _GREEK[name]
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    return "" if name in _FONT else name  # a font command's argument follows as a group; \log -> log


def _token(match: re.Match) -> str:
    name, symbol, mark, group, script_command, script_char = match.groups()
    if name is not None:
        return _command(name)
    if symbol is not None:
        return _SYMBOLS.get(symbol, symbol)
    if mark is not None:
        if group is not None:
            argument = _TOKEN.sub(_token, group)  # a group holds no braces: one more token pass
        elif script_command is not None:
            argument = _command(script_command)
        else:
            argument = script_char
        return _script(mark, argument)
    return ""  # a grouping brace


def math_to_text(math: str) -> str:
    """The content of one math span as text."""
    for _ in range(2):  # \frac{\frac{a}{b}}{c}: inner first; deeper nesting keeps its braces out below
        if "\\" not in math:
            break
        math = _SQRT.sub(r"√\1", _FRAC.sub(r"\1/\2", math))
    return " ".join(_TOKEN.sub(_token, math).split())


def _accent(match: re.Match) -> str:
    mark, letter = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return unicodedata.normalize("NFC", letter + _ACCENTS[mark])


def _math_span(match: re.Match) -> str:
    content = match.group(2)
    if _PLAIN_WORD.search(content) or (content[0].isdigit() and _LETTERS.search(content)):
        # "$10 and US$", "$10 in US$": prose between two prices, not math
        return match.group(0)
    return math_to_text(content)


def latex_to_text(text: str) -> Tuple[str, bool]:
    """(text with simple inline LaTeX as plain text, whether anything changed)."""
    if "$" not in text and "\\" not in text and "``" not in text:
        return text, False
    out = text
    if "$" in out:
        out = _MATH.sub(_math_span, out)
    if "\\" in out:
        out = _FONT_ARG.sub(r"\1", out)
        out = _ACCENT.sub(_accent, out)
    if "``" in out:
        out = _QUOTES.sub("\u201c\\1\u201d", out)
    return out, out != text
