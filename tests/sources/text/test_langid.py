"""sources.text.langid: the non_english filter's detector. Fast, deterministic, no network."""

import functools
import importlib.util
import pickle
import subprocess
import sys

import pytest

from sources.text import langid
from sources.text.langid import LangIdConfig, detect_language, is_english

BENCH = langid.__file__.replace("sources/text/langid.py", "benchmarks/langid.py")


@functools.lru_cache(maxsize=None)
def _bench():
    """benchmarks/langid.py as a module: its set loaders, so tests and benchmark read one set."""
    spec = importlib.util.spec_from_file_location("langid_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(
    "text",
    [
        "The weather is really nice today.",
        "lol same",
        "Thanks man!",
        "Sure",
        "THIS IS THE BEST THING EVER",
        "Jürgen Klopp is a great manager.",
        "Lewandowski to Barcelona is confirmed.",
        "&gt; I think it's broken\n\nSame here, see [the guide](https://example.com/x).",
        "    x = compute()\n\nThis snippet fails on Python 3.11, any idea why?",
        "I've been playing this game for about three years now, and I still find new things.",
    ],
)
def test_english(text):
    assert detect_language(text)[0] == "en"
    assert is_english(text)


@pytest.mark.parametrize(
    "text, code",
    [
        ("Me gusta mucho esta canción.", "es"),
        ("Eu não sei o que fazer.", "pt"),
        ("Je ne sais pas quoi dire.", "fr"),
        ("Das ist mein Problem nicht.", "de"),
        ("Ik heb een hond en een kat.", "nl"),
        ("Il computer non funziona.", "it"),
        ("Jag vet inte vad jag ska säga.", "sv"),
        ("Я не знаю, что сказать.", "ru"),
        ("Дякую за допомогу!", "uk"),
        ("Δεν ξέρω τι να πω.", "el"),
        ("لا أعرف ماذا أقول.", "ar"),
        ("אני לא יודע מה להגיד.", "he"),
        ("मुझे नहीं पता क्या कहूँ।", "hi"),
        ("我不知道该说什么。", "zh"),
        ("このライブラリはGitHubで公開されています。", "ja"),
        ("도와주셔서 감사합니다!", "ko"),
        ("ฉันไม่รู้จะพูดอะไร", "th"),
    ],
)
def test_not_english(text, code):
    assert detect_language(text)[0] == code
    assert not is_english(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "[https://imgur.com/a/xyz](https://imgur.com/a/xyz)",
        "😂😂😂",
        "🔥 💯 👍",
        "12345 3.14 2019-08-01",
        "¯\\_(ツ)_/¯",
        "`x = [i**2 for i in range(10)]`",
        "```\nfor x in y:\n    print(x)\n```",
        "r/AskReddit",
        "u/spez",
        "F",
        "&gt;&gt; !!!",
    ],
)
def test_undetermined(text):
    assert detect_language(text) == ("", 0.0)
    assert is_english(text) is False
    assert is_english(text, undetermined=True) is True


def test_confidence_range_and_threshold():
    code, conf = detect_language("Thanks for the help, it worked perfectly.")
    assert code == "en" and 0.0 < conf <= 1.0
    assert not is_english("Thanks for the help, it worked perfectly.", min_confidence=1.01)


def test_deterministic_across_calls_and_processes():
    texts = ["Genius", "Sure", "Hasta la vista, baby.", "Tuber simulator", "Ya, no me importa.", "Привет"]
    first = [detect_language(t) for t in texts]
    assert [detect_language(t) for t in texts] == first
    code = (
        "import json,sys; from sources.text.langid import detect_language;"
        f"print(json.dumps([detect_language(t) for t in {texts!r}]))"
    )
    root = BENCH.rsplit("/benchmarks/", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, check=True, capture_output=True, text=True)
    assert [tuple(x) for x in __import__("json").loads(out.stdout)] == first


def test_langdetect_backend_is_seeded_and_leaves_global_factory_alone():
    import langdetect.detector_factory as df

    cfg = langid.LangIdConfig(backend="langdetect")
    texts = ["Com a reforma vai ter mais dinheiro", "ok thanks", "Ein kurzer Text"]
    runs = [[detect_language(t, cfg) for t in texts] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert df.DetectorFactory.seed is None  # our seed lives on our own factory


def test_lazy_and_picklable():
    code = (
        "import sys, pickle; from sources.text import langid;"
        "assert 'lingua' not in sys.modules and 'langdetect' not in sys.modules;"
        "assert langid.detect_language('Das ist gut und schön')[0] == 'de';"
        "assert 'lingua' in sys.modules;"
        "f = pickle.loads(pickle.dumps(langid.is_english)); assert f('hello there, how are you')"
    )
    root = BENCH.rsplit("/benchmarks/", 1)[0]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
    cfg = pickle.loads(pickle.dumps(langid.LangIdConfig(backend="langdetect")))
    assert cfg.backend == "langdetect"
    with pytest.raises(ValueError):
        detect_language("Das ist gut und schön", langid.LangIdConfig(backend="nope"))


def _accuracy(items, predict):
    short = [it for it in items if _bench().is_short(it["text"])]
    hits = sum(predict(it["text"]) == it["gold"] for it in short)
    return hits / len(short)


def _langdetect_seeded(text):
    from langdetect import DetectorFactory
    from langdetect.detector_factory import PROFILES_DIRECTORY

    global _LD
    if "_LD" not in globals():
        _LD = DetectorFactory()
        _LD.load_profile(PROFILES_DIRECTORY)
        _LD.seed = 0
    det = _LD.create()
    det.append(text)
    try:
        code = det.detect()
    except Exception:  # langdetect raises on text without features
        return ""
    return {"no": "nb", "zh-cn": "zh", "zh-tw": "zh"}.get(code, code)


def test_authored_set_shape():
    items = _bench().load_authored()
    assert len(items) >= 300
    assert sum(it["gold"] == "en" for it in items) / len(items) >= 0.4
    assert len({it["gold"] for it in items if it["gold"]}) >= 10


def test_cascade_beats_langdetect_on_short_authored_texts():
    items = _bench().load_authored()
    ours = _accuracy(items, lambda t: detect_language(t)[0])
    theirs = _accuracy(items, _langdetect_seeded)
    assert ours >= theirs + 0.05, (ours, theirs)
    assert ours >= 0.85


def _precision_recall(items, config=None):
    keep = [is_english(it["text"], config=config) if config else is_english(it["text"]) for it in items]
    tp = sum(k and it["gold"] == "en" for k, it in zip(keep, items))
    return tp / sum(keep), tp / sum(it["gold"] == "en" for it in items)


def test_english_decision_on_authored_set():
    # The authored set is 55% non-English short hard cases: stage 5 (short plain text is English)
    # trades a little precision here (0.989 -> 0.955) for recall on real text, see the next tests.
    precision, recall = _precision_recall(_bench().load_authored())
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


@pytest.mark.parametrize("text", ["Chaos! Emergent phenomenon! Cool!", "Emacs, UltraEdit, Taco HTML Editor",
                                  "Eyelash extensions", "Why don't women wear cookie scent perfumes?"])
def test_short_plain_english_is_kept(text):
    assert is_english(text)
    assert not is_english(text, config=LangIdConfig(plain_text_stage=False))  # what issue 10 found


@pytest.mark.parametrize("text", ["Buenas noches, amigos.", "Tren istasyonu nerede?", "Danke schön!",
                                  "Lekker weer vandaag."])
def test_short_foreign_text_with_evidence_is_not_kept(text):
    assert not is_english(text)


def test_short_english_titles_of_a_real_subreddit(shared_data):
    items = _bench().load_titles(shared_data / "reddit" / "RS_2019-10.AskWomen.zst")
    assert len(items) == 155
    before = _precision_recall(items, LangIdConfig(plain_text_stage=False))
    after = _precision_recall(items)
    assert before[1] < 0.5 and after[1] >= 0.94 and after[0] >= 0.92, (before, after)


def test_cascade_beats_langdetect_on_short_reddit_comments(shared_data):
    items = _bench().load_reddit(shared_data / "reddit" / "RC_2019-08.first1007.zst")
    assert len(items) == 933
    ours = _accuracy(items, lambda t: detect_language(t)[0])
    theirs = _accuracy(items, _langdetect_seeded)
    assert ours >= theirs + 0.1, (ours, theirs)
    keep = [is_english(it["text"]) for it in items]
    gold_en = [k for k, it in zip(keep, items) if it["gold"] == "en"]
    assert sum(gold_en) / len(gold_en) >= 0.95
