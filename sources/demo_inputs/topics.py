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


# ---- more vocabulary, for the Wikipedia, Common Crawl and Semantic Scholar demo dumps ----
# (added below the Reddit / Stack Exchange vocabulary, which stays as it was: their dumps do not change)

FIELDS: Dict[str, str] = {
    "coffee": "coffee preparation", "python": "Python programming", "hiking": "hiking and backpacking",
    "bicycles": "cycling and bicycle maintenance", "gardening": "vegetable gardening",
    "astronomy": "amateur astronomy", "baking": "bread baking", "linux": "Linux system administration",
    "chess": "chess strategy", "photography": "photography",
}

# Short clauses (never a whole sentence of another dump), several per topic, so that generated pages
# on one topic say different things.
DETAILS: Dict[str, List[str]] = {
    "coffee": ["a medium roast keeps more of the origin flavour", "hard water leaves scale inside the boiler",
               "crema fades within a minute of pulling the shot", "blade grinders produce uneven particles",
               "light roasts need hotter water to taste sweet", "a bloom lets trapped carbon dioxide escape",
               "milk foams best when it starts cold", "washed beans taste cleaner than natural ones",
               "espresso machines run at about nine bars of pressure", "a paper filter holds back the oily fines"],
    "python": ["dictionaries keep insertion order since version 3.7", "a traceback reads from the bottom up",
               "the standard library ships a fast JSON parser", "f-strings format values inline",
               "dataclasses remove boilerplate from small classes", "pip installs wheels without compiling",
               "the walrus operator assigns inside an expression", "mutable default arguments are shared between calls",
               "a context manager closes files even after errors", "cProfile shows where the time goes"],
    "hiking": ["switchbacks make a steep slope easier on the legs", "blisters start where boots rub the heel",
               "a headlamp belongs in every day pack", "creek crossings are safest in the morning",
               "ridge lines draw lightning in summer storms", "a bivy sack weighs less than a tent",
               "trail markers are painted blazes on trees", "electrolytes matter on long hot climbs",
               "snow lingers on north slopes into July", "leave no trace means packing out all waste"],
    "bicycles": ["a worn brake pad squeals in the wet", "spoke tension keeps a wheel round",
                 "gear cables stretch during the first month", "a saddle too low strains the knees",
                 "sealant dries out after a few months", "wider tires roll well at low pressure",
                 "a bottom bracket creaks when it is loose", "hydraulic brakes need a bleed once a year",
                 "frame size matters more than the brand", "a quick link makes chain removal easy"],
    "gardening": ["clay soil holds water but drains slowly", "crop rotation keeps soil diseases down",
                  "marigolds draw pests away from vegetables", "seeds need warmth more than light to sprout",
                  "earthworms aerate the beds for free", "overwatering rots roots faster than drought",
                  "beans fix nitrogen in the soil", "a cold frame extends the season by weeks",
                  "slugs come out on damp evenings", "leaf mould makes a fine seed compost"],
    "astronomy": ["Saturn's rings tilt over a fifteen year cycle", "light pollution hides the Milky Way",
                  "an equatorial mount follows the sky with one axis", "the Orion Nebula shows well in winter",
                  "eyepieces with a wide field make scanning easier", "dew forms on optics on clear nights",
                  "a Barlow lens doubles the magnification", "Mars comes closest every twenty six months",
                  "meteor showers peak after midnight", "stacking many short exposures reduces noise"],
    "baking": ["salt slows yeast and tightens gluten", "an autolyse rest hydrates the flour",
               "rye flour ferments faster than wheat", "scoring controls where the loaf opens",
               "a cold retard deepens the flavour overnight", "butter layers create flaky pastry",
               "an oven thermometer reveals hot spots", "whole wheat dough needs more water",
               "a baking stone stores heat for the bottom crust", "an underproofed loaf bursts at the sides"],
    "linux": ["a kernel update needs a reboot to take effect", "grep searches text with regular expressions",
              "a firewall drops unwanted packets", "disk quotas stop one user filling the drive",
              "sudo logs every command it runs", "symbolic links point to another path",
              "top shows which process uses the CPU", "environment variables configure programs at start",
              "backups are worthless until a restore is tested", "containers share the host kernel"],
    "chess": ["the opening aims to control the centre", "a passed pawn grows stronger near promotion",
              "doubled pawns are often a weakness", "bishops prefer open diagonals",
              "zugzwang forces a player to weaken the position", "the fianchetto places a bishop on the long diagonal",
              "blunders happen most often in time trouble", "a pin stops a piece from moving freely",
              "opposite coloured bishops often end in a draw", "endgame study pays off in every game"],
    "photography": ["golden hour light is soft and warm", "a higher ISO adds grain to the image",
                    "the rule of thirds places the subject off centre", "a lens hood blocks stray light",
                    "image stabilisation allows slower handheld shutters", "white balance fixes colour casts",
                    "a narrow aperture keeps the whole landscape sharp", "back button focus separates focus from release",
                    "histograms show clipped highlights", "a fast card keeps up with burst shooting"],
}

# What a study on the topic measures, and where (Semantic Scholar abstracts).
MEASURES: Dict[str, List[str]] = {
    "coffee": ["extraction yield", "perceived bitterness", "total dissolved solids", "caffeine content"],
    "python": ["runtime", "memory use", "defect density", "developer productivity"],
    "hiking": ["injury rates", "energy expenditure", "route finding errors", "trail erosion"],
    "bicycles": ["rolling resistance", "braking distance", "component wear", "rider comfort"],
    "gardening": ["crop yield", "soil moisture", "pest damage", "root depth"],
    "astronomy": ["limiting magnitude", "tracking error", "image noise", "observer detection rates"],
    "baking": ["loaf volume", "crumb porosity", "crust colour", "dough rheology"],
    "linux": ["boot time", "system throughput", "attack surface", "recovery time"],
    "chess": ["move accuracy", "rating gain", "error rates under time pressure", "opening preparation depth"],
    "photography": ["image sharpness", "dynamic range", "colour accuracy", "motion blur"],
}
SETTINGS: Dict[str, List[str]] = {
    "coffee": ["specialty cafés", "home kitchens", "a sensory laboratory"],
    "python": ["open-source projects", "university courses", "industrial code bases"],
    "hiking": ["alpine national parks", "guided group tours", "long-distance trails"],
    "bicycles": ["urban commuting", "gravel racing", "a controlled track"],
    "gardening": ["allotment plots", "raised-bed trials", "greenhouse experiments"],
    "astronomy": ["suburban back yards", "dark-sky reserves", "school observatories"],
    "baking": ["artisan bakeries", "domestic ovens", "a cereal science laboratory"],
    "linux": ["cloud servers", "embedded devices", "university clusters"],
    "chess": ["online blitz games", "club tournaments", "engine-assisted training"],
    "photography": ["wildlife fieldwork", "studio portraiture", "smartphone cameras"],
}

FIRST_NAMES = ("Ada Bruno Clara Dmitri Elena Farid Greta Hiro Ines Jonas Kaia Luca Mira Nils Olga Pavel Rosa Sven "
               "Tariq Ulla Vera Wen Yusuf Zoe Amara Bela Chen Dario Esme Felix").split()
LAST_NAMES = ("Abbott Brandt Castillo Dubois Eriksen Fontaine Gallo Hartmann Ivanova Jensen Kowalski Lindqvist "
              "Moreau Novak Okafor Petrov Quint Rossi Schmidt Tanaka Ueda Varga Weber Yilmaz Zhou Marsh Holm Reyes "
              "Sato Byrne").split()


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def bare(thing: str) -> str:
    """'a burr grinder' -> 'burr grinder', 'the GIL' -> 'GIL' (for titles and headings)."""
    for article in ("a ", "an ", "the "):
        if thing.startswith(article):
            return thing[len(article):]
    return thing


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def statement(fact: str) -> str:
    """A fact that can follow "that": the few imperative ones ("weigh flour ...") get "it is wise to"."""
    return f"it is wise to {fact}" if fact.split()[0] in ("start", "clean", "weigh") else fact


def is_plural(name: str) -> bool:
    """'trekking poles', "Jupiter's moons" (not 'chess'): for "is"/"are" next to a thing's name."""
    return name.endswith("s") and not name.endswith("ss")
