"""Inline LaTeX as text (sources.text.latex): math spans by pandoc's rule, commands, scripts, text-mode fonts."""

import pytest

from sources.text.latex import latex_to_text, math_to_text


@pytest.mark.parametrize("text, plain", [
    (r"a set $W$ on $k$ vertices, $g_k$-convex, $I(W)$ for every $k > 3$",
     "a set W on k vertices, gₖ-convex, I(W) for every k > 3"),
    (r"momentum $p_0$ relaxes to $p_\infty.$", "momentum p₀ relaxes to p∞."),
    (r"$\alpha$-helix, $\beta$-sheet and \textit{in vivo} data", "α-helix, β-sheet and in vivo data"),
    (r"$x^{2}+y^{n+1}$ and $\frac{a}{b}$ and $\sqrt{2}$", "x²+yⁿ⁺¹ and a/b and √2"),
    (r"the $\mathcal{N}=4$ theory in $O(n \log n)$ time", "the N=4 theory in O(n log n) time"),
    (r"$$E=mc^2$$", "E=mc²"),
    ("``spread out\" and ``quoted''", "\u201cspread out\u201d and \u201cquoted\u201d"),
    (r"Erd\H{o}s, G\"odel and \'Ecole", "Erdős, Gödel and École"),
])
def test_simple_latex_becomes_text(text, plain):
    assert latex_to_text(text) == (plain, True)


@pytest.mark.parametrize("text", [
    "It costs $5 and $10 in US$ 3.", "from $5-$10, or $10 and US$ more", "no markup at all", r"\cite{x} stays",
])
def test_prices_and_prose_stay(text):
    assert latex_to_text(text) == (text, False)


def test_an_unknown_command_keeps_its_name_and_scripts_without_forms_keep_a_marker():
    assert math_to_text(r"\foo x^{ab}") == "foo x^(ab)"
    assert math_to_text(r"\frac{\frac{a}{b}}{c}") == "a/b/c"
