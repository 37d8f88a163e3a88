"""Language identification for the ``non_english`` drop reason: a cheap cascade, deterministic.

Why a cascade: langdetect costs ~2-6 ms a text, is wrong on most short texts ("Sure" -> fr,
"Nice" -> ro) and random unless seeded; lingua in high-accuracy mode is accurate but needs
~0.5-0.8 GB and seconds to load. Most of our input is English, and most English says so in its
first few function words, so the cascade spends the expensive detector only where it is needed
(measured in benchmarks/langid.py, results in benchmarks/results/langid.md):

1. clean: drop URLs, Markdown link targets, code spans/blocks, r/ and u/ references, HTML
   entities; keep letters only. Fewer than ``MIN_LETTERS`` letters left -> undetermined ("").
2. script: mostly non-Latin letters -> not English at once; the script names the language
   (Hangul -> ko, kana -> ja, Han -> zh, Greek, Hebrew, Thai, ...) or, for scripts shared by
   several languages (Cyrillic, Arabic, Devanagari), a tiny lingua model of that script decides.
3. English lexicon: enough tokens from a list of frequent English words and chat slang, and
   (almost) no word that is frequent only in another Latin-script language or carries a
   diacritic in lowercase -> English, without any model. Names and acronyms are neutral.
4. everything else (other Latin-script languages, English full of names or slang): lingua in
   low-accuracy mode over ``LATIN_LANGUAGES``, with a prior for English (our sources are
   mostly English) unless a foreign word was seen. Without lingua installed, langdetect with a
   fixed seed takes its place (a little less accurate, see the benchmark).
5. plain text the lexicon could not settle: all ASCII, no foreign word, and either short (at
   most ``short_text_tokens`` countable words: "Chaos! Emergent phenomenon! Cool!", "Emacs,
   UltraEdit, Taco HTML Editor", "Eyelash extensions") or with at least two English words that
   make 30% of it ("Why don't women wear cookie scent perfumes?") is English unless the model is
   very sure (``short_text_max_confidence``) of another language: on a few words it guesses
   (Romanian, Swedish...) and our sources are mostly English. Tuned on the labelled sets
   (issue 10): exact accuracy 90.6% -> 95.4%, see benchmarks/results/langid.md.

"Undetermined" means there is no language to see: empty, whitespace, URL-, number-, emoji-,
symbol- or marked-code-only text, a bare r/... or u/... reference, a single letter.
``detect_language`` returns ("", 0.0) for it; ``is_english`` returns ``undetermined``
(False by default), so a caller that wants another drop reason checks ``detect_language``.

Detectors are built lazily, once per process, in module-level caches: the module holds no
detector at import time, so Beam can pickle anything that refers to these functions.
Only the first ``MAX_CHARS`` characters of the cleaned text are read (long passages cost the
same as medium ones; language rarely changes after the first paragraph).
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from dataclasses import dataclass

UNDETERMINED = ""
MIN_LETTERS = 2
MAX_CHARS = 1000
DEFAULT_MIN_CONFIDENCE = 0.4  # benchmark: 0.4-0.5 trade ~0.5% English recall for precision

# Latin-script languages lingua chooses among at stage 4: the ones common on Reddit, Stack
# Exchange and the web. A language outside the set is reported as its nearest neighbour,
# which is still "not English", the only decision the filter needs.
LATIN_LANGUAGES = (
    "en", "es", "pt", "fr", "de", "it", "nl", "sv", "da", "nb", "pl", "tr", "id", "ro",
    "cs", "fi", "hu", "tl", "vi", "ca", "hr", "sk",
)
# Scripts shared by several languages -> the languages lingua picks among.
SHARED_SCRIPT_LANGUAGES = {
    "cyrillic": ("ru", "uk", "bg", "sr", "mk", "be", "kk"),
    "arabic": ("ar", "fa", "ur"),
    "devanagari": ("hi", "mr"),
}
# Scripts that name one language outright (or the most likely one).
SCRIPT_LANGUAGE = {
    "greek": "el", "hebrew": "he", "thai": "th", "hangul": "ko", "kana": "ja", "han": "zh",
    "georgian": "ka", "armenian": "hy", "bengali": "bn", "tamil": "ta", "telugu": "te",
    "gujarati": "gu", "gurmukhi": "pa",
    "cyrillic": "ru", "arabic": "ar", "devanagari": "hi",  # only if the model gives no answer
}


@dataclass(frozen=True)
class LangIdConfig:
    """Knobs of the cascade; the defaults are the measured choice (benchmarks/langid.py)."""

    backend: str = "lingua"  # stage 4: "lingua" or "langdetect" (seeded)
    lingua_high_accuracy: bool = False  # high mode: +~400 MB, ~5x slower, see the benchmark
    use_lexicon: bool = True  # stage 3; off = every Latin-script text goes to stage 4
    english_prior: float = 3.0  # stage 4: English likelihood weight before renormalising
    langdetect_seed: int = 0
    plain_text_stage: bool = True  # stage 5; off = the cascade as it was before issue 10
    short_text_tokens: int = 4  # stage 5 applies up to this many words (names not counted)
    short_text_max_confidence: float = 0.95  # stage 5 keeps another language from this confidence up


SHORT_TEXT_CONFIDENCE = 0.5  # what stage 5 reports: above DEFAULT_MIN_CONFIDENCE, below the lexicon's
_PARTLY_ENGLISH_SHARE = 0.3  # stage 5 on longer text: English words / countable words


DEFAULT_CONFIG = LangIdConfig()

# --------------------------------------------------------------------------- stage 1: clean

_FENCED_CODE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INDENTED_CODE = re.compile(r"^(?: {4}|\t).*$", re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_MD_LINK = re.compile(r"\[([^\]]{0,300})\]\([^)\s]{0,300}(?:\s[^)]{0,300})?\)")  # bounded spans: linear
_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S+", re.I)
_DOMAIN = re.compile(
    r"\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|co|gg|be|tv|de|uk|ly|me)\b\S*", re.I
)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_REDDIT_REF = re.compile(r"(?<![\w/])/?[ru]/[\w-]+", re.I)
# letter runs with inner apostrophes: don't, c'est, l'aiuto
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_NOT_LETTER_OR_SEPARATOR = re.compile(r"[^A-Za-z ']")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


# (marker that must be in the text, pattern, replacement): the substring test skips most
# regexes on most texts; every pattern needs its marker to match (case-folded for URLs and refs).
_CLEANUP = (
    ("```", False, _FENCED_CODE, " "),
    ("    ", False, _INDENTED_CODE, " "),
    ("\t", False, _INDENTED_CODE, " "),
    ("`", False, _INLINE_CODE, " "),
    ("](", False, _MD_LINK, r" \1 "),
    ("://", False, _URL, " "),
    ("www.", True, _URL, " "),
    ("@", False, _EMAIL, " "),
    (".", False, _DOMAIN, " "),
    ("r/", True, _REDDIT_REF, " "),
    ("u/", True, _REDDIT_REF, " "),
)


def clean_text(text: str) -> str:
    """Text with the parts that carry no language removed (see the module docstring).

    Only the first MAX_CHARS are read after cleanup, so at most 4x that is cleaned: a hostile
    megabyte costs what 4,000 characters cost."""
    text = html.unescape(text[: 4 * MAX_CHARS])
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    for marker, folded, pattern, replacement in _CLEANUP:
        if marker in (text.lower() if folded else text):
            text = pattern.sub(replacement, text)
    return text[:MAX_CHARS]


# --------------------------------------------------------------------------- stage 2: script

_SCRIPT_RANGES = (
    (0x0250, 0x036F, None),  # IPA, combining marks: not counted
    (0x0370, 0x03FF, "greek"), (0x1F00, 0x1FFF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"), (0x0750, 0x077F, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0A00, 0x0A7F, "gurmukhi"),
    (0x0A80, 0x0AFF, "gujarati"),
    (0x0B80, 0x0BFF, "tamil"),
    (0x0C00, 0x0C7F, "telugu"),
    (0x0E00, 0x0E7F, "thai"),
    (0x10A0, 0x10FF, "georgian"),
    (0x1100, 0x11FF, "hangul"),
    (0x1E00, 0x1EFF, "latin"),
    (0x3040, 0x30FF, "kana"), (0x31F0, 0x31FF, "kana"), (0xFF66, 0xFF9F, "kana"),
    (0x3130, 0x318F, "hangul"), (0xAC00, 0xD7AF, "hangul"),
    (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"), (0xF900, 0xFAFF, "han"),
    (0xFB1D, 0xFB4F, "hebrew"),
    (0xFB50, 0xFDFF, "arabic"), (0xFE70, 0xFEFF, "arabic"),
)


def _script(ch: str) -> str | None:
    cp = ord(ch)
    if cp < 0x0250:
        return "latin"
    for lo, hi, name in _SCRIPT_RANGES:
        if lo <= cp <= hi:
            return name
    return "other"


def script_counts(text: str) -> dict[str, int]:
    """Letters per script; ASCII letters counted by regex (fast), the rest one by one."""
    if text.isascii() and not _NOT_LETTER_OR_SEPARATOR.search(text):  # joined word tokens, the usual case
        return {"latin": len(text) - text.count(" ") - text.count("'")}
    counts = {"latin": len(_ASCII_LETTER.findall(text))}
    for ch in _NON_ASCII.findall(text):
        if ch.isalpha():
            name = _script(ch)
            if name:
                counts[name] = counts.get(name, 0) + 1
    return counts


# --------------------------------------------------------------------------- stage 3: lexicon

# Frequent English words and chat slang. A hit is evidence, not proof: words that are also
# frequent function words elsewhere ("a", "in", "die", "also") are here because they are
# English; the foreign list below is what vetoes.
ENGLISH_WORDS = frozenset("""
a about above across actually add added after again against ago agree ah ain't all almost alone
along already alright also always am amazing an and another any anymore anyone anything anyway
apparently are aren't around as ask asked at away awesome aww
back bad basically be beautiful because become been before being believe best better between
big bit both bought boy bro brother but buy by
call called came can can't cannot care cause change check come comes coming could couldn't
cool cute damn day days dear did didn't different do does doesn't doing don't done down dude
each easy edit else end enough especially even ever every everyone everything exactly
fact fair far feel feels felt few find fine first for forget forgot found free friend friends
from fuck fucking fun funny game games gave get gets getting give go goes going gonna good
got great guess guy guys had haha hahaha happened happy hard has hasn't hate have haven't having
he he'd he'll he's hear hell hello help her here here's hey hi him his hmm home honestly hope
how however huh i i'd i'll i'm i've idea if im in instead into is isn't it it'd it'll it's its
just keep kind kinda knew know known last later least left less let let's life like liked
likely little lmao lmfao lol long look looking looks lot lots love made make makes making man
many may maybe me mean means might mine more most much must my myself need needs never new next
nice no nobody none nope not nothing now of off oh ok okay old omg on once one only or other
others our out over own part people person place play played player please point pretty
probably put quite rather read real really reason right said same saw say saying says see seem
seems seen she she's should shouldn't since so some someone something sometimes soon sorry
sound sounds start still stop stuff such super sure take talk talking tbh tell than thank thanks
thankyou that that's thats the their them then there there's these they they'd they'll they're
they've thing things think this those though thought through time times to today together too
took totally true try trying turn two ugh um under understand until up upvote us use used using
very wait want wanted wants was wasn't watch way we we'll we're we've week well went were
weren't what what's whatever when where which while who whole whom whose why will win with
without won't wonder work works world would wouldn't wow wtf ya yay yea yeah year years yep yes
yet yo you you'd you'll you're you've young your yours yourself yup
also thing awesome congrats congratulations thanks idk imo imho ikr btw fyi smh nvm irl ngl
lmk afaik iirc til tldr op ama eli5 nsfw ftw gg wp np ty tyvm pls plz thx rn af asf ig
bruh fam dank meme memes post posts comment comments sub reddit karma mods mod ban banned
shit fucked ass bitch crap hey hi hello bye goodbye welcome cheers oops yikes whoa woah
same agreed true false lucky sick cool dope lit rip nah yah yup ew meh gotcha
love loved hate hated lose lost won beat play plays playing watch watched watching
look looked need needed feel feeling felt think thought know knew mean meant guess guessed
say said tell told ask asked give given take taken make made come came keep kept let leave
left put run ran see seen saw hear heard wish wished hope hoped try tried call called
money house car work job school family friend kid kids dog cat food water story movie show
season episode team city country state government president war law police news reason
problem question answer thing stuff part side way end week month months hour hours minute
minutes second seconds morning night today tomorrow yesterday ever never always often
again already almost enough quite rather really very pretty too so just only even still
good bad better worse best worst great small big large huge tiny long short high low new old
young right wrong sure real fake free full empty hard easy nice fine happy sad mad glad
funny weird crazy stupid smart dumb beautiful ugly hot cold warm pay paid buy bought sell
sold game games player players fan fans series book books song songs album music video
videos picture pictures photo photos face head hand hands eyes body heart mind life death
man men woman women girl girls boy boys guy guys people person baby mom dad mother father
sister brother wife husband boyfriend girlfriend sir ma'am folks everybody somebody anybody
seriously literally definitely absolutely exactly probably actually basically obviously
honestly clearly hopefully unfortunately especially usually finally certainly apparently
interesting amazing awesome incredible terrible horrible perfect gorgeous stunning
should could would might must shall whether although unless because since while until
dont cant didnt doesnt isnt wasnt arent werent couldnt wouldnt shouldnt havent hasnt aint ive
youre theyre whats hes shes lets theres thatll youll youve u ur r rly srsly tho thru cuz coz
wanna gotta lemme gimme dunno ya'll y'all yall ok k kk lil bc pic pics gif link bot code
god jesus christ lord hey yes sir mr mrs ms dr st oh ooh ahh aha wow whoa ouch hmm huh
able account add age agree air allow amount animal answer anyone apart area arm army art
article attack attention available average away baby bag ball bank bar base bed beer begin
behind bet bill bird birthday black blood blue board boat book born boss bottom box brain
break bring broke brought brown build building built burn business busy cake camera campaign
cancer card career case catch caught cause center chance channel character charge cheap
child children choice choose church class clean clear close club coffee college color
colour comes common community company complete computer confirmed consider control copy
cost couple course cover crash create credit crowd cup current cut damage dark data date
daughter dead deal death decide decision deep deserve design detail die died diet dinner
direct dirty doctor door double draw dream dress drink drive driver drop drug drugs dry
early earth east eat eating effect effort eight either election email employee energy
enjoy entire episode error event evidence exactly example expect experience explain eye
fail fall false far farm fast fat fault fear feature feed field fight figure fill film
final fire fish five fix floor fly follow foot force forever form forward four friday front
fuck fucked fucking future garbage gas general gets girl glass goal gold gone gotten green
ground group grow guess gun hair half hall happen happens happened health heard heat heavy
held hit hold hole holy honest horse hospital hot hotel hour huge human hurt husband ice
idea image important include including info inside instead internet issue issues item
join joke judge jump kept key kill killed killer king kiss knee knock lady land language
large late laugh law lead learn learned leave legal less letter level lie light line list
listen live lives living local lock longer loss lost loud low luck lucky main major mark
market married match matter meat medical meet meeting member memory mention message met
middle mile military million minute miss missing mistake modern moment monday monster
mouth move movie moving music name names nature near nearly neck needs neither network
nice nine noise normal north note notice number office officer official often oil once
online open opinion option order original outside page pain paper parent parents park
party pass past patient pay peace perfect perhaps period phone pick piece pink plan plane
plant plastic plate point police policy poor popular position possible post power
practice prefer present press price prime private prize process product program project
proof proper pull pure purpose push quality quick quiet race radio rain raise range rate
reach ready reality realize received recent record red region release remember remove
rent reply report rest result return review rich ride ring rise risk road rock role room
rule rules safe sale salt save scene science score screen sea search seat second secret
security sell send sense sent serious service set seven sex shape share shop shot shoulder
shout sign simple single sit site situation six size skill skin sleep slow smell smile
smoke snow social soft sold son song south space speak special speed spend spent sport
spot spring staff stage stand star stars station stay step stick stock stone store storm
straight strange street strong student study stupid style success suck sucks summer sun
support supposed surprise sweet system table tax teacher tear tech terrible test text
thank theory third thousand threw throw ticket tired title tonight top total touch tour
town track trade traffic train training trash travel treat tree trip trouble truck trust
truth tv type union unit university upon usual value version view village visit voice
vote wall war warm waste weather website wedding weekend weird west white wife wild
window winter wish woman wonder wood word words worked working worry worth write writing
wrong yard yellow yesterday zero invest username checks speak tonight opinion incorrect
""".split())

# Words frequent in another Latin-script language and (almost) never English tokens.
FOREIGN_WORDS = frozenset("""
el la los las un una unos unas del al es está están estoy son soy muy pero porque que qué
como cómo cuando dónde donde por para con sin sobre también tambien hay ser estar tengo tiene
hace hacer puedo puede gracias hola bueno buena mucho mucha nada todo todos yo tú usted ella
ellos nosotros mi mis tu tus su sus lo le les se nos ya ahora aquí sí mas más vez hasta eso
esto esta este ese esa así pues entonces siempre nunca algo alguien gusta quiero sé
não nao é um uma uns umas os as da das do dos na nas no nos em ao aos pelo pela com sem
muito muita você voce eu ele ela eles elas nós meu minha seu sua isso isto aqui agora então
obrigado obrigada tem ter fazer vai vou ser foi são sim também tambem mais mesmo já ainda
le les des du au aux est et ou mais avec sans pour dans sur pas ne je tu il elle nous vous
ils elles mon ma mes ton ta tes son sa ses leur leurs ce cette ces qui quoi où c'est j'ai
n'est c'était suis sont était être avoir fait très tres bien merci bonjour oui non aussi
encore toujours jamais rien tout tous toute toutes peu beaucoup vraiment parce quand comme
il lo gli della dello degli delle nel nella nei negli sul sulla è e di da per che non più
sono siamo siete hanno ho hai ha anche questo questa quello quella molto grazie ciao perché
perche cosa sempre ancora tutto tutti mio mia tuo sei essere fare oggi domani
der die das den dem des ein eine einen einem einer und ist sind nicht ich du er sie wir
ihr mit von zu auf für fur aus bei nach über uber auch noch schon aber oder wenn weil dass
wie wo was ist's hat haben habe bin bist sein kann können muss mehr sehr gut danke bitte
ja nein nur doch mal heute morgen hier jetzt immer nie alles nichts etwas mein meine dein
deine unser euch uns dir mir mich dich wird werden wurde war waren gibt geht
de het een en van is dat niet ik je jij hij zij wij jullie ze met voor op aan bij uit naar
ook maar nog wel geen dit deze die wat hoe waar waarom omdat als heb hebt heeft hebben
zijn was waren wordt worden kan kunnen moet moeten wil willen zou zal er hier daar nu dan
alleen heel veel goed dank bedankt ja nee mijn jouw onze hun
och att det som en ett är inte jag du han hon vi ni de dem med för av på till från om men
eller så har hade var kan ska skulle vill mycket bra tack hej nej inte också bara alla
något ingen mig dig sig min din sin vår er deras här där nu då
og ikke jeg deg ham hun vi dere dem med for af til fra hvad hva hvor hvorfor hvordan
er var har hadde havde kan skal vil meget mye godt takk tak nei også bare alle noe noget
jest nie się na do że to ale jak czy już tak tylko jestem są był była było może mam
ma co jego jej ich mnie ciebie bardzo dziękuję dzięki dobrze też tutaj teraz
bir ve bu da de ne ile için çok ben sen o biz siz onlar var yok değil mi mı ama gibi
daha şey evet hayır teşekkür
yang dan di ke dari ini itu tidak untuk dengan saya kamu dia kami kita mereka ada akan
sudah belum bisa juga atau tapi karena jadi sangat terima kasih apa siapa
ang ng mga sa ay na si ni ko mo siya kami tayo sila hindi oo po opo naman lang talaga
salamat kung ano bakit paano
și nu este sunt cu pentru pe la mai foarte dar sau ce cine unde când
je se na ve že to jsem jsi jsme není ale jak taky tady
ja ei on ovat olen oli se että mutta kun niin kuin myös vain
és hogy nem egy az van volt meg csak már még
""".split()) - ENGLISH_WORDS - frozenset(
    # English words that the lists above share; they must not veto English
    "a i in is was die also man come fine hand war bad den son per sale pain chat mine sin "
    "has am an as at be by do go he if it me my no of on or so to up us we hat gift will "
    "pest art bin fast hell rest mist kind gut most men her till ha van hoe hon med bra tack "
    "dig sig min din ham hun til bare na ale co biz ay pe vain ton ta non encore e ho soy hay "
    "nada todo sus lo os da em eu sim von fur uber met wat heel hun mam".split()
)

_DIACRITIC_LATIN = re.compile(r"[À-ÖØ-öø-ɏḀ-ỿ]")
_LEXICON_MIN_SHARE = 0.5  # English hits / tokens, short texts
_LEXICON_MIN_SHARE_LONG = 0.35  # >= 12 tokens: names and rare words dilute less reliably
_FOREIGN_MAX_SHARE = 0.15  # foreign hits allowed, relative to English hits (quotes, names)


def _evidence(tokens: list[str], lowered: list[str]) -> tuple[int, int, int]:
    """(tokens that count, English hits, foreign hits).

    A capitalised word inside the text (Haaland, Barcelona, Yang) or an acronym in mixed-case
    text (FAQ, GIFV) that is not an English word is most likely a name: it does not count.
    A lowercase word with a Latin diacritic (está, für, déjà) counts as foreign evidence.
    """
    has_lower = any(t[:1].islower() for t in tokens)
    n = en = foreign = 0
    for i, (tok, low) in enumerate(zip(tokens, lowered)):
        if low in ENGLISH_WORDS:
            en += 1
        elif tok[:1].isupper() and (
            (i > 0 and not tok.isupper()) or (tok.isupper() and len(tok) > 1 and has_lower)
        ):
            continue  # a name or an acronym (Yang, Los Angeles, FAQ), even if a foreign word
        elif low in FOREIGN_WORDS:
            foreign += 1
        elif tok[:1].islower() and _DIACRITIC_LATIN.search(tok):
            foreign += 1
        n += 1
    return n, en, foreign


def _lexicon_english(n: int, en: int, foreign: int) -> float | None:
    """Confidence that the text is English from word lists alone, or None if not confident."""
    if en == 0 or foreign > _FOREIGN_MAX_SHARE * en:
        return None
    share = en / n
    if share < (_LEXICON_MIN_SHARE_LONG if n >= 12 else _LEXICON_MIN_SHARE):
        return None
    return min(0.99, 0.6 + 0.4 * share)


# --------------------------------------------------------------------------- stage 4: models

_LOCK = threading.Lock()
_LINGUA: dict[tuple, object] = {}
_LANGDETECT: dict[int, object] = {}


def _lingua_detector(codes: tuple[str, ...], high_accuracy: bool):
    """One lingua detector per (languages, mode) per process; None if lingua is missing."""
    key = (codes, high_accuracy)
    det = _LINGUA.get(key)
    if det is None and key not in _LINGUA:
        with _LOCK:
            if key not in _LINGUA:
                try:
                    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
                except ImportError:
                    _LINGUA[key] = None
                    return None
                langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]
                builder = LanguageDetectorBuilder.from_languages(*langs)
                if not high_accuracy:
                    builder = builder.with_low_accuracy_mode()
                _LINGUA[key] = builder.build()
        det = _LINGUA[key]
    return det


def _langdetect_factory(seed: int):
    """langdetect's profiles loaded once per process, in our own factory with a fixed seed."""
    fac = _LANGDETECT.get(seed)
    if fac is None:
        with _LOCK:
            if seed not in _LANGDETECT:
                from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

                f = DetectorFactory()
                f.load_profile(PROFILES_DIRECTORY)
                f.seed = seed  # instance attribute: leaves langdetect's global factory alone
                _LANGDETECT[seed] = f
            fac = _LANGDETECT[seed]
    return fac


_LANGDETECT_CODES = {"no": "nb", "zh-cn": "zh", "zh-tw": "zh"}


def _langdetect(text: str, seed: int, allowed: tuple[str, ...] | None, english_prior: float):
    from langdetect.lang_detect_exception import LangDetectException

    det = _langdetect_factory(seed).create()
    det.append(text)
    try:
        probs = det.get_probabilities()
    except LangDetectException:
        return UNDETERMINED, 0.0
    scores = {}
    for p in probs:
        code = _LANGDETECT_CODES.get(p.lang, p.lang)
        if allowed is None or code in allowed:
            scores[code] = scores.get(code, 0.0) + p.prob
    if not scores and probs:  # none of its guesses is in the set: keep its own top guess
        scores = {_LANGDETECT_CODES.get(probs[0].lang, probs[0].lang): probs[0].prob}
    return _pick(scores, english_prior)


def _lingua(text: str, codes: tuple[str, ...], high: bool, english_prior: float):
    det = _lingua_detector(codes, high)
    if det is None:
        return None
    values = det.compute_language_confidence_values(text)
    scores = {c.language.iso_code_639_1.name.lower(): c.value for c in values}
    return _pick(scores, english_prior)


def _pick(scores: dict[str, float], english_prior: float) -> tuple[str, float]:
    """Best language after weighting English by its prior; ties broken by code (determinism)."""
    if "en" in scores:
        scores = dict(scores, en=scores["en"] * english_prior)
    total = sum(scores.values())
    if total <= 0:
        return UNDETERMINED, 0.0
    code, score = max(sorted(scores.items()), key=lambda kv: kv[1])
    return code, round(score / total, 4)


def _stage4(text: str, cfg: LangIdConfig, codes: tuple[str, ...], prior: float):
    if cfg.backend == "lingua":
        result = _lingua(text, codes, cfg.lingua_high_accuracy, prior)
        if result is not None:
            return result
    elif cfg.backend != "langdetect":
        raise ValueError(f"unknown backend {cfg.backend!r}")
    return _langdetect(text, cfg.langdetect_seed, codes, prior)


# --------------------------------------------------------------------------- API


def explain(text: str, config: LangIdConfig = DEFAULT_CONFIG) -> tuple[str, float, str]:
    """``detect_language`` plus the stage that decided: empty, script, lexicon, model or short."""
    cleaned = clean_text(text or "")
    tokens = _WORD.findall(cleaned)
    words = " ".join(tokens)
    counts = script_counts(words)
    letters = sum(counts.values())
    if letters < MIN_LETTERS:
        return UNDETERMINED, 0.0, "empty"
    script, n = max(sorted(counts.items()), key=lambda kv: kv[1])
    if script != "latin":
        share = round(n / letters, 4)
        if script in SHARED_SCRIPT_LANGUAGES:
            # the cleaned text, not the tokens: vowel signs (Devanagari) are not word characters
            code, conf = _stage4(cleaned, config, SHARED_SCRIPT_LANGUAGES[script], 1.0)
            if code:
                return code, round(min(share, max(conf, 0.5)), 4), "script+model"
        if script in SCRIPT_LANGUAGE:
            return SCRIPT_LANGUAGE[script], share, "script"
        return UNDETERMINED, 0.0, "script"  # a script we have no language for
    lowered = words.lower().replace("’", "'").split(" ") if tokens else []
    n, en, foreign = _evidence(tokens, lowered)
    if config.use_lexicon:
        conf = _lexicon_english(n, en, foreign)
        if conf is not None:
            return "en", round(conf, 4), "lexicon"
    # The English prior holds only while nothing in the text speaks against English: a
    # foreign function word or a diacritic in a lowercase word removes it, and mostly foreign
    # words with few English ones rule English out (lingua low reads "Où est la gare" as en).
    if foreign == 0:
        prior = config.english_prior
    elif foreign >= 2 and foreign > 2 * en and 2 * foreign >= n:
        prior = 0.0
    else:
        prior = 1.0
    # lowercase: lingua and langdetect read ALL CAPS as a different language
    code, conf = _stage4(" ".join(lowered), config, LATIN_LANGUAGES, prior)
    if (config.plain_text_stage and _plain_english_candidate(n, en, foreign, words, config)
            and _model_unsure(code, conf, config)):
        return "en", SHORT_TEXT_CONFIDENCE, "short"
    return code, conf, "model"


def _plain_english_candidate(n: int, en: int, foreign: int, words: str, config: LangIdConfig) -> bool:
    """ASCII words, none foreign, and few of them or partly English: a model's guess is weak there."""
    if foreign or not words.isascii():
        return False
    return n <= config.short_text_tokens or (en >= 2 and en >= _PARTLY_ENGLISH_SHARE * n)


def _model_unsure(code: str, conf: float, config: LangIdConfig) -> bool:
    """The model found a language but not English with confidence, nor another one surely."""
    if not code:
        return False
    if code == "en":
        return conf < DEFAULT_MIN_CONFIDENCE
    return conf < config.short_text_max_confidence


def detect_language(text: str, config: LangIdConfig = DEFAULT_CONFIG) -> tuple[str, float]:
    """(ISO 639-1 code, confidence in [0, 1]); ("", 0.0) when there is no language to see."""
    code, conf, _ = explain(text, config)
    return code, conf


def is_english(
    text: str,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    *,
    undetermined: bool = False,
    config: LangIdConfig = DEFAULT_CONFIG,
) -> bool:
    """Keep/drop decision for the ``non_english`` filter; ``undetermined`` is the answer for
    text with no language in it (such text is better dropped by too_short/link_only first)."""
    code, conf = detect_language(text, config)
    if code == UNDETERMINED:
        return undetermined
    return code == "en" and conf >= min_confidence
