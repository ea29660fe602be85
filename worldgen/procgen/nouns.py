"""Which unknown words in a prompt name a thing to place.

The rule reader knows a fixed vocabulary. A word it does not know may still be the noun of an
object phrase ("a red hammock by the pond"): it ends a run of unknown words that a determiner,
count, colour or size opened, and a phrase boundary (punctuation, a function word, a relation,
the end) follows. Such a noun becomes a generic "object" named after it, so it is placed,
captioned, selectable and later regenerated rather than silently dropped. Words that describe
rather than name (moods, light, materials, adjectives by their endings, parts of the room) are
never turned into objects: a wrong object costs more than a missing one.
"""

from __future__ import annotations

# Nouns that are not things to place: the shell, light and weather, time, and description. They
# head their own phrase ("a warm glow settles"), so a word after them is not the noun.
NOT_OBJECTS = frozenset("""
floor floors ceiling ceilings wall walls ground sky skies grass lawn roof roofs room rooms space spaces area areas
corner corners side sides middle centre center edge edges end top bottom front back view views air atmosphere mood
vibe vibes style styles feel feeling feelings ambience ambiance scent smell sound sounds noise tone tones palette
texture textures pattern patterns decor design designs touch touches hint hints glow shade shades shadow shadows
sun sunlight sunshine moonlight daylight lighting sunset sunrise dawn dusk morning mornings evening evenings
afternoon afternoons night nights day days time times season seasons summer winter autumn fall spring weather breeze
wind rain snow fog mist haze clouds cloud light lights color colors colour colours hue hues finish finishes
detail details accent accents piece pieces thing things stuff item items object objects kind kinds sort type types
lot lots bit bits number numbers pair couple bunch set group groups row rows line lines variety mix selection
collection scene world place places setting interior exterior layout home family people person someone everyone
anyone visitor visitors guest guests warmth comfort charm character personality energy life order chaos mess
clutter look looks sense moment moments while way ways part parts plenty eye eyes picture hum birdsong
hour hours minute minutes leaf leaves foliage sand water ice mud dirt gravel moss soil dust smoke steam
blanket blankets sheet sheets bedding duvet quilt throw pillow pillows
teenager teenagers child children kid kids parent parents owner owners artist artists teacher teachers student
students man men woman women boy boys girl girls friend friends couple
nook alcove den terrace deck garage station loft attic basement cellar hallway hall corridor porch patio
courtyard lobby apartment flat lakeside riverside waterfront hillside village city town countryside field fields
valley mountain mountains hill hills island desert jungle shore coast ocean sea lake river bay harbour harbor
""".split())
# Materials modify the noun after them ("brass telescopes", "linen curtains").
MATERIALS = frozenset("""
wood stone metal glass marble concrete leather velvet wool linen cotton brass copper steel iron ceramic bamboo
rattan wicker plaster tile brick paint silk satin suede chrome gold granite slate terracotta porcelain oak pine
""".split())
# Endings of adjectives, adverbs, participles and abstract nouns (checked on words of 5+ letters).
DESCRIPTIVE_ENDINGS = ("ly", "ness", "ity", "ment", "tion", "sion", "ous", "ful", "ive", "ish", "less", "able",
                       "ible", "ed", "ing", "est", "ian", "ese", "esque", "ic", "ical", "al", "ist", "y")
# Short common adjectives the endings miss.
ADJECTIVES = frozenset("""
old new warm cool cold hot soft hard big small tiny huge vast open wide airy calm quiet loud dim lit bare clean
neat tidy pale deep rich bold plain fancy posh chic sleek retro boho rustic urban vintage antique classic
elegant lush dense sparse tall low high long short thin thick flat round square smooth rough worn aged fresh
green-ish leafy grassy sandy rocky snowy misty foggy rainy sunny shady cosy cozy homey serene tranquil peaceful
gentle golden silver wooden mid late early near far main whole entire various several many few lone single
""".split())


def names_an_object(word: str, capitalised: bool) -> bool:
    """Whether an unknown word, ending an object phrase, is the noun of a thing to place.

    `capitalised`: written with a capital inside a sentence (a proper name or adjective such as
    "Scandinavian" or "Kyoto", not a thing)."""
    if capitalised or not word.isalpha() or len(word) < 3 or len(word) > 24:
        return False
    if word in NOT_OBJECTS or word in MATERIALS or word in ADJECTIVES:
        return False
    if len(word) >= 5 and word.endswith(DESCRIPTIVE_ENDINGS) and not word.endswith(NOUN_ENDINGS):
        return False
    return word.isascii()  # another script or accents: most likely another language, not a noun we can size


# Endings that look descriptive but make nouns of things ("-ing" in "swing" is short; these are
# the common longer ones: a lantern "stand" is not here, it has no descriptive ending).
NOUN_ENDINGS = ("mural", "crystal", "animal", "mosaic", "ball", "bell", "stool", "pedal", "pedestal", "sandal", "canal", "tical", "ality", "easel",
                "trolley", "pulley", "jersey", "chimney", "trophy", "pottery", "gallery", "balcony", "canopy",
                "ivy", "tray", "toy", "buoy", "key", "jockey", "turkey", "monkey", "donkey", "hockey")


def singular(word: str) -> tuple[str, bool]:
    """(singular, whether `word` was plural) by English endings: telescopes -> telescope,
    benches -> bench, canopies -> canopy; glass, cactus and oasis stay."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y", True
    if word.endswith(("ches", "shes", "xes", "sses", "zzes")):
        return word[:-2], True
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "os")):
        return word[:-1], True
    return word, False


def heads_phrase(word: str) -> bool:
    """Whether an unknown word is a noun that is not a thing to place ("glow", "moment"): it
    ends its phrase, so the words after it do not belong to the modifiers before it."""
    return word in NOT_OBJECTS or (len(word) >= 5 and word.endswith(ABSTRACT_ENDINGS))


ABSTRACT_ENDINGS = ("ness", "ity", "ment", "tion", "sion")
