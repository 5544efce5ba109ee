"""The notes drill: synthetic training examples that teach a small clone to answer from the passages of its
system frame instead of inventing. Each example is an invented first-person fact written as a note, framed with
persona/frame.py's notes header among distractor notes (other invented facts), then a question about it and a
short first-person answer that carries the fact.

The drill's relations and values are drawn from pools written for it and share no fact, question or value with
`bench recall`'s probe persona (tests/persona/test_drill.py checks it), so the probe measures whether reading the
notes was learned, not whether the probe's facts were.

    selfclone notes drill data/drill.jsonl --count 200 --context "You are Maggie."
    selfclone train data/me.jsonl --notes-drill 200          # mixed into a clone's training
"""
from __future__ import annotations

import random
from collections.abc import Iterator

from ..dataset.chat import Example
from .frame import system_frame

NAMES = ("Caspian", "Ysolde", "Thaddeus", "Wilhelmina", "Oswin", "Perpetua", "Lucan", "Ferelith", "Bartholomew",
         "Marisol", "Evander", "Clementine", "Ignatius", "Rosalind", "Peregrine", "Hyacinth", "Casimir", "Leocadia",
         "Aurelio", "Seraphine", "Godric", "Isolde", "Lysander", "Philippa", "Ambrose", "Theodora", "Florian",
         "Esmeralda", "Quentin", "Beatrix", "Ulric", "Delphine", "Cornelius", "Henrietta", "Barnaby", "Imogen")
PETS = ("Biscuit", "Marmalade", "Pickle", "Noodle", "Turnip", "Waffle", "Crumpet", "Sprocket", "Dumpling",
        "Parsnip", "Toffee", "Gherkin", "Pudding", "Rhubarb", "Custard", "Nutmeg", "Bramble", "Kipper")
TOWNS = ("Kelderby", "Port Aslin", "Wrenmouth", "Ashcombe", "Stowbridge", "Fallowmere", "Thornwick", "Marlow Cross",
         "Eddington", "Brackenfold", "Quillon", "Saltmarsh", "Dunmere", "Holloway", "Penwarren", "Grisby")
COUNTRIES = ("Portugal", "Iceland", "Chile", "Japan", "Norway", "Morocco", "Estonia", "Peru", "Vietnam", "Greece",
             "Canada", "Slovenia", "Georgia", "Ireland", "Malta", "Finland")
COLOURS = ("mustard yellow", "teal", "burgundy", "lilac", "olive green", "coral", "navy blue", "saffron",
           "charcoal grey", "plum", "mint green", "rust orange")
FOODS = ("lentil soup", "mushroom risotto", "fish pie", "apricot tart", "cheese scones", "beetroot salad",
         "lamb stew", "pear crumble", "sardines on toast", "pumpkin curry", "rye bread", "plum jam")
INSTRUMENTS = ("the oboe", "the accordion", "the banjo", "the harp", "the clarinet", "the ukulele",
               "the bassoon", "the trombone", "the mandolin", "the harmonica")
SPORTS = ("badminton", "fencing", "curling", "archery", "water polo", "squash", "croquet", "bowls", "handball")
FLOWERS = ("foxgloves", "primroses", "marigolds", "peonies", "snowdrops", "dahlias", "bluebells", "irises")
DRINKS = ("ginger beer", "peppermint tea", "cider", "hot chocolate", "elderflower cordial", "lapsang tea")
LANGUAGES = ("Welsh", "Dutch", "Finnish", "Portuguese", "Hungarian", "Swahili", "Basque", "Icelandic")
JOBS = ("a baker", "a postman", "a nurse", "a ferry pilot", "a printer", "a vet", "a tailor", "a librarian",
        "a carpenter", "a beekeeper", "a stonemason", "a piano tuner")
OBJECTS = ("a red umbrella", "a tin whistle", "a pocket compass", "a wooden duck", "a silver thimble",
           "a chipped teapot", "a glass marble", "a leather satchel", "a paper lantern", "a copper kettle")

# relation: (note templates, question templates, answer templates, value pool). {v} is the value; notes may add
# detail after it, answers keep to the fact. None of these is a relation the recall probe asks about.
RELATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "brother": (("My brother {v} lives by the sea and never answers the phone.", "I have one brother, {v}, who is two years older."),
                ("What is your brother's name?", "What's your brother called?"),
                ("My brother is called {v}.", "His name is {v}.")),
    "mother": (("My mother, {v}, still writes me letters by hand.", "My mum is called {v} and she hates the cold."),
               ("What is your mother's name?", "What's your mum called?"),
               ("My mother is called {v}.", "Her name is {v}.")),
    "friend": (("My oldest friend is {v}; we met at school.", "{v} has been my best friend for twenty years."),
               ("Who is your best friend?", "What's your oldest friend called?"),
               ("My best friend is {v}.", "That would be {v}.")),
    "neighbour": (("My neighbour {v} grows enormous marrows.", "Next door lives {v}, who borrows my ladder."),
                  ("What is your neighbour's name?", "Who lives next door to you?"),
                  ("My neighbour is {v}.", "It's {v} next door.")),
    "dog": (("Our dog is a scruffy terrier called {v}.", "The dog, {v}, sleeps under my desk."),
            ("What is your dog called?", "What's the name of your dog?"),
            ("My dog is called {v}.", "He's called {v}.")),
    "goldfish": (("The goldfish on the kitchen shelf is called {v}.", "I won a goldfish at a fair and named it {v}."),
                 ("What is your goldfish called?", "What did you name your goldfish?"),
                 ("My goldfish is called {v}.", "I named it {v}.")),
    "born": (("I was born in {v}, in a house by the station.", "My home town is {v}, though I left at eighteen."),
             ("Where were you born?", "What is your home town?"),
             ("I was born in {v}.", "In {v}.")),
    "honeymoon": (("We went to {v} for our honeymoon and it rained every day.", "Our honeymoon was in {v}."),
                  ("Where did you go on your honeymoon?", "Where was your honeymoon?"),
                  ("We went to {v}.", "Our honeymoon was in {v}.")),
    "colour": (("My favourite colour is {v}; my front door is painted it.", "I wear {v} whenever I can."),
               ("What is your favourite colour?", "Which colour do you like best?"),
               ("My favourite colour is {v}.", "I like {v} best.")),
    "dish": (("My favourite dish is {v}, the way my aunt made it.", "If I could eat one thing forever it would be {v}."),
             ("What is your favourite food?", "What do you like to eat most?"),
             ("My favourite food is {v}.", "I love {v}.")),
    "plays": (("I play {v} in a band that rehearses on Mondays.", "I learned {v} when I was forty."),
              ("What instrument do you play?", "Do you play an instrument?"),
              ("I play {v}.", "Yes, I play {v}.")),
    "sport": (("I play {v} every Wednesday evening.", "My sport is {v}; I was county champion once."),
              ("What sport do you play?", "Which sport do you do?"),
              ("I play {v}.", "My sport is {v}.")),
    "flower": (("My favourite flowers are {v}.", "I plant {v} along the fence every year."),
               ("What are your favourite flowers?", "Which flowers do you like best?"),
               ("My favourite flowers are {v}.", "I love {v}.")),
    "drink": (("I drink {v} every evening.", "My drink of choice is {v}."),
              ("What do you like to drink?", "What is your favourite drink?"),
              ("I like {v}.", "My favourite drink is {v}.")),
    "language": (("I am learning {v} from a book I found in a charity shop.", "I speak {v} with my grandmother."),
                 ("Which language are you learning?", "What other language do you speak?"),
                 ("I am learning {v}.", "I speak {v}.")),
    "mother_job": (("My mother worked as {v} all her life.", "Before she retired, my mum was {v}."),
                   ("What did your mother do for a living?", "What was your mum's job?"),
                   ("My mother was {v}.", "She was {v}.")),
    "keepsake": (("On my desk I keep {v} that belonged to my grandfather.", "I always carry {v} for luck."),
                 ("What do you keep for luck?", "What keepsake do you carry?"),
                 ("I keep {v}.", "I carry {v} for luck.")),
    "house_number": (("I live at number {v}, the house with the blue gate.", "Our house is number {v}."),
                     ("What number is your house?", "What's your house number?"),
                     ("My house is number {v}.", "Number {v}.")),
    "age_swim": (("I only learned to swim at the age of {v}.", "I was {v} when I first swam across the lake."),
                 ("How old were you when you learned to swim?", "When did you learn to swim?"),
                 ("I learned to swim at {v}.", "When I was {v}.")),
    "bus": (("I take the number {v} bus to the market.", "The {v} bus stops right outside my door."),
            ("Which bus do you take?", "What bus goes past your house?"),
            ("I take the number {v}.", "The number {v} bus.")),
}
POOLS = {"brother": NAMES, "mother": NAMES, "friend": NAMES, "neighbour": NAMES, "dog": PETS, "goldfish": PETS,
         "born": TOWNS, "honeymoon": COUNTRIES, "colour": COLOURS, "dish": FOODS, "plays": INSTRUMENTS,
         "sport": SPORTS, "flower": FLOWERS, "drink": DRINKS, "language": LANGUAGES, "mother_job": JOBS,
         "keepsake": OBJECTS, "house_number": tuple(str(n) for n in range(12, 98)),
         "age_swim": tuple(str(n) for n in range(9, 61)), "bus": tuple(str(n) for n in range(3, 95))}
CONTEXTS = ("You are {name}.", "You are {name}. Answer in one short sentence.", "You are {name}, talking to a friend.",
            "You are {name}. Reply as you would in a text message.")


def facts(rng: random.Random) -> dict[str, str]:
    """One invented person: a value for every relation."""
    return {relation: rng.choice(POOLS[relation]) for relation in RELATIONS}


def drill(count: int, *, context: str | None = None, distractors: int = 2, seed: int = 0) -> Iterator[Example]:
    """`count` framed examples; a new invented person every few examples. `context` is the clone's own system
    prompt ("" for none; default: one of a few invented ones)."""
    rng = random.Random(seed)
    person = {}
    for i in range(count):
        if i % 5 == 0:
            person = facts(rng)
        relation = rng.choice(sorted(RELATIONS))
        notes, questions, answers = RELATIONS[relation]
        value = person[relation]
        passage = rng.choice(notes).format(v=value)
        others = [rng.choice(RELATIONS[r][0]).format(v=person[r])
                  for r in rng.sample([r for r in sorted(RELATIONS) if r != relation], distractors + 1)]
        if rng.random() < 0.5:      # a passage is often a chunk of two sentences, the fact first or second
            passage = " ".join(rng.sample([passage, others.pop()], 2))
        passages = [passage] + others[:rng.randint(0, distractors)]
        rng.shuffle(passages)       # the fact anywhere among the passages, as retrieval ranks it
        own = rng.choice(CONTEXTS).format(name=rng.choice(NAMES)) if context is None else context
        system = system_frame(own, passages=passages)
        example = Example.chat(("user", rng.choice(questions)), ("assistant", rng.choice(answers).format(v=value)),
                               system=system)
        yield Example(example.messages, {"relation": relation, "fact": value})
