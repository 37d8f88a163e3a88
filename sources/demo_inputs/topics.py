"""Topic vocabulary for generated demo text: questions and answers on one topic share its words,
and a thread's posts share an "anchor" (a named, numbered thing such as "Borealis 4821"), the way
real questions and their answers share specifics. So a model trained on demo pairs has real signal
to learn, and the consistency filter can tell a true pair from a same-topic mismatch."""

import random
from typing import Dict, List

TOPICS: Dict[str, Dict[str, List[str]]] = {
    "coffee": {
        "things": ["espresso", "pour-over", "French press", "cold brew", "arabica beans", "a burr grinder", "a moka pot"],
        "verbs": ["brew", "grind", "extract", "roast", "steep"],
        "facts": ["finer grounds extract faster and taste more bitter", "water just off the boil works best",
                  "fresh beans lose aroma within a few weeks of roasting", "a scale makes the ratio repeatable"],
    },
    "python": {
        "things": ["a list comprehension", "a generator", "the GIL", "asyncio", "a virtualenv", "type hints", "pytest fixtures"],
        "verbs": ["refactor", "debug", "profile", "package", "test"],
        "facts": ["generators keep memory flat on large inputs", "the GIL limits CPU-bound threads",
                  "virtualenvs keep project dependencies apart", "fixtures make test setup reusable"],
    },
    "hiking": {
        "things": ["trail runners", "a rain shell", "trekking poles", "a water filter", "a topo map", "merino socks"],
        "verbs": ["pack", "navigate", "climb", "layer", "plan"],
        "facts": ["cotton stays wet and chills you", "poles save your knees on descents",
                  "start early to avoid afternoon storms", "a paper map never runs out of battery"],
    },
    "bicycles": {
        "things": ["tubeless tires", "a chain checker", "disc brakes", "a torque wrench", "clipless pedals", "a derailleur"],
        "verbs": ["tune", "adjust", "lubricate", "replace", "true"],
        "facts": ["a stretched chain wears the cassette", "lower tire pressure grips better on gravel",
                  "carbon parts need the right torque", "clean the chain before you oil it"],
    },
    "gardening": {
        "things": ["tomato seedlings", "compost", "raised beds", "mulch", "drip irrigation", "pruning shears"],
        "verbs": ["plant", "water", "prune", "transplant", "fertilize"],
        "facts": ["deep watering grows deeper roots", "mulch keeps the soil cool and moist",
                  "compost feeds the soil life", "tomatoes want at least six hours of sun"],
    },
    "astronomy": {
        "things": ["a Dobsonian telescope", "binoculars", "the Andromeda galaxy", "Jupiter's moons", "a star chart", "a red flashlight"],
        "verbs": ["observe", "track", "photograph", "collimate", "locate"],
        "facts": ["dark adaptation takes about twenty minutes", "aperture matters more than magnification",
                  "the moon washes out faint galaxies", "a steady mount beats a bigger scope"],
    },
    "baking": {
        "things": ["sourdough starter", "bread flour", "a Dutch oven", "laminated dough", "a proofing basket", "instant yeast"],
        "verbs": ["knead", "proof", "bake", "fold", "shape"],
        "facts": ["higher hydration gives an open crumb", "steam in the first minutes lets the loaf rise",
                  "a warm kitchen speeds up fermentation", "weigh flour instead of using cups"],
    },
    "linux": {
        "things": ["systemd units", "a cron job", "file permissions", "an SSH key", "the package manager", "a swap file"],
        "verbs": ["configure", "install", "mount", "schedule", "harden"],
        "facts": ["journalctl shows what a unit printed", "keys are safer than passwords for SSH",
                  "chmod changes who may read a file", "logs rotate so disks do not fill"],
    },
    "chess": {
        "things": ["the Sicilian Defense", "an endgame tablebase", "a knight fork", "castling", "a pawn structure", "time controls"],
        "verbs": ["study", "calculate", "analyze", "defend", "attack"],
        "facts": ["rooks belong on open files", "a knight on the rim is dim",
                  "king activity decides many endgames", "tactics come from weak squares"],
    },
    "photography": {
        "things": ["a prime lens", "the exposure triangle", "a tripod", "RAW files", "a polarizing filter", "shutter speed"],
        "verbs": ["shoot", "expose", "edit", "frame", "focus"],
        "facts": ["a wide aperture blurs the background", "RAW keeps more room for editing",
                  "a polarizer cuts glare on water", "slow shutters need a steady support"],
    },
}

QUESTION_TEMPLATES = [
    "How do I {verb} with {thing}?",
    "What is the best way to {verb} using {thing}?",
    "Is {thing} worth it for a beginner who wants to {verb}?",
    "Why does everyone recommend {thing} when you {verb}?",
    "Any tips on {thing}? I want to {verb} better.",
]
ANSWER_TEMPLATES = [
    "In my experience {fact}. With {thing} you can {verb} without much trouble, just take it slowly.",
    "Short answer: yes. {Fact}, and {thing} makes it easier to {verb} consistently.",
    "I would start with {thing}. {Fact}. Once that works, {verb} a little more each week.",
    "The trick is that {fact}. I {verb} with {thing} every weekend and it made a real difference.",
]
OFF_TOPIC = ["lol same", "This.", "Thanks!", "Came here to say this"]
NON_ENGLISH = [
    "No estoy de acuerdo con esto, creo que la mejor manera es hacerlo poco a poco y con paciencia.",
    "Je pense que c'est une très bonne idée, mais il faut commencer doucement et avec patience.",
    "Das sehe ich anders, man sollte lieber langsam anfangen und jeden Tag ein bisschen üben.",
]


ANCHOR_NAMES = ("Ardent Borealis Cobalt Delphi Ember Fjord Granite Halcyon Indigo Juniper Kestrel Lumen "
                "Meridian Nimbus Onyx Pinnacle Quartz Rowan Sierra Tundra Umbra Vega Willow Xenon Yarrow Zephyr "
                "Alder Bramble Cinder Drift Echo Falcon Glacier Harbor Ion Jasper Kodiak Lark Mistral").split()
ANCHOR_QUESTION = ["I have the {anchor}.", "This is about my {anchor}.", "Using a {anchor}, if that matters."]
ANCHOR_ANSWER = ["On the {anchor} in particular, go slowly.", "I had the {anchor} too.",
                 "For a {anchor} this is the usual advice."]


def make_anchor(rng: random.Random) -> str:
    """A named, numbered thing a thread is about; question and answers mention it."""
    return f"{rng.choice(ANCHOR_NAMES)} {rng.randrange(100, 10_000)}"


def question(rng: random.Random, topic: str, anchor: str = "") -> str:
    t = TOPICS[topic]
    text = rng.choice(QUESTION_TEMPLATES).format(verb=rng.choice(t["verbs"]), thing=rng.choice(t["things"]))
    return f"{text} {rng.choice(ANCHOR_QUESTION).format(anchor=anchor)}" if anchor else text


def answer(rng: random.Random, topic: str, anchor: str = "") -> str:
    t = TOPICS[topic]
    fact = rng.choice(t["facts"])
    text = rng.choice(ANSWER_TEMPLATES).format(
        fact=fact, Fact=fact[0].upper() + fact[1:], verb=rng.choice(t["verbs"]), thing=rng.choice(t["things"]))
    if anchor and rng.random() < 0.85:
        text = f"{rng.choice(ANCHOR_ANSWER).format(anchor=anchor)} {text}"
    return text
