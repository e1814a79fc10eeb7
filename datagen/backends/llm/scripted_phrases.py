"""The phrase tables the scripted stand-in builds its text from.

Pure data, kept apart from the code that draws from it: the builtin
tokenizer (`datagen.text.tokenizer`) reads every table of strings in this
module into its vocabulary, so the template words tokenize whole, and a
table added here is in the vocabulary without further wiring.
"""

from __future__ import annotations

# Phrase tables, kept compact by hand (one entry per line would double the file).
# fmt: off
OPENERS = (
    "Sure.", "Good question.", "Oh, that one's fun.", "Right, so", "Well,", "Okay,", "So,", "Ah,",
    "Let me think.", "Great question!", "Hmm, okay.", "You know,", "Alright,", "Happy to help.",
    "Yeah,", "Oh, sure.", "Short version:", "Here's the thing:", "Honestly,", "Good one.",
)
CLOSERS = (
    "Hope that helps.", "Anything else you'd like to know?", "Pretty neat, right?", "Does that make sense?",
    "Want me to go on?", "That's the gist of it.", "Fun fact, isn't it?", "Let me know if you want more.",
    "So there you have it.", "I find that pretty interesting.",
)
CONNECTIVES = (
    "Also,", "On top of that,", "And", "Interestingly,", "What's more,", "By the way,", "Plus,",
    "In fact,", "Funny enough,", "Beyond that,", "Another thing:", "Oh, and",
)
# Remarks that pad an answer to length; {t} is the topic, {k} what the question is about
# (a noun phrase from `subject.subjects`, or "this"). {k} is never a sentence's grammatical
# subject, so "chickpeas" and "the Great Wall" both agree with the verb.
ELABORATIONS = (
    "people often find {t} more interesting than they expect",
    "there is a surprising amount of history behind {k}",
    "a lot of what we know about {k} was worked out over many years",
    "questions about {k} come up in quiz shows more often than you would think",
    "if you ever read up on {t}, you will find plenty of stories like this one",
    "it's one of those facts about {t} that tends to stick",
    "experts on {t} still talk about {k} quite a bit",
    "the details around {k} are worth a closer look",
    "many people mix this up, so you're in good company asking",
    "it connects to a bunch of other things in {t}",
    "the story behind {k} is a nice way into {t} as a whole",
    "once you know this, a lot about {t} makes more sense",
    "there are a few good documentaries that touch on {k}",
    "teachers like to use {k} as an example when they talk about {t}",
    "it's a good reminder of how varied {t} can be",
    "you can find the same pattern in other parts of {t} too",
    "it has shaped how people think about {k} ever since",
    "I always enjoy questions about {t} like this one",
    "when people learn about {k}, they usually want to know more",
    "you hear about {k} a lot once you start looking",
    "I like how {k} ties into the bigger picture of {t}",
    "there's a good reason {k} gets mentioned so often",
)
FALLBACK_CORES = (
    "The answer is {a}.", "It's {a}.", "That would be {a}.", "The short answer is {a}.",
    "It's {a}, as it happens.", "That's {a}.",
)
NO_GOLD_CORES = (
    "That's a big question about {k}, and the honest answer is that it depends on who you ask.",
    "When it comes to {k}, the main thing to know is that it sits right at the heart of {t}.",
    "There's no single number for {k}, but the general idea is well understood.",
)
LEAD_INS = (
    "And", "Okay, next one:", "Another thing,", "Oh, and", "Also,", "Got it.", "Thanks.",
    "Interesting. So", "Right.", "Cool. Now", "Makes sense.", "Hmm, and",
)
FIRST_LEAD_INS = ("", "", "Hey,", "Quick question:", "Hi there.", "So,", "I was wondering,")
VAGUE = frozenset("ever since beyond though still also really quite about would could thing things "
                  "what's more plus funny enough other another".split())
RELATED_TEMPLATES = (
    "Wait, what do you mean by {x}?", "Sorry, how does {x} work?", "Hang on, why {x}?",
    "Hold on, what's {x} exactly?", "Wait, can you say more about {x}?", "Sorry, {x}? What's that?",
    "Hang on, how do we know about {x}?", "Wait, where does {x} come from?", "Sorry, who decided on {x}?",
    "Hold on, is {x} still true today?", "Wait, what does {x} have to do with it?",
    "Sorry to cut in, but why does {x} matter?", "Hang on, when did {x} start?",
    "Wait, is {x} the same everywhere?",
)
FOLLOWUP_CORES = (
    "Good catch. When I said {x}, I meant it plays a central part in {t}.",
    "Sure. {X} is basically one of the key pieces of {t}.",
    "Right, so {x} is worth explaining a bit.",
    "Ah, {x}. It's simpler than it sounds.",
    "Fair question. {X} is what most of this comes down to.",
)
DISTRACTOR_CALLS = ("", "", "Hey Sam,", "Mom,", "Guys,", "Honey,", "Excuse me,", "Dad,", "Hey,", "Listen,")
DISTRACTOR_LINES = (
    "did anyone see where I left my keys?", "what time is dinner tonight?", "can you pass me the remote?",
    "is it supposed to rain tomorrow?", "the dog needs to go out.", "have you fed the cat yet?",
    "we're out of milk again.", "did you call the plumber back?", "I'm going to the store, need anything?",
    "the kids have practice at five.", "can you turn the heating up a bit?", "where did you put my charger?",
    "don't forget your dentist appointment.", "is the washing machine done?", "who ate the last cookie?",
    "your phone is ringing in the kitchen.", "should we order pizza tonight?", "the package just arrived.",
    "I think I left the oven on.", "can you help me move this chair?",
)
# A user's long turn (long_user_turn): a situation, a remark or two, then the question.
# {t} is the topic, {k} a key word of the question.
SITUATIONS = (
    "So my friends and I were talking about {t} last night.",
    "I was reading something about {t} on the train this morning.",
    "My daughter had a homework question about {t} yesterday.",
    "We had a quiz night at work, and one round was all about {t}.",
    "I was watching a documentary about {t} the other evening.",
    "My neighbour and I got into a little debate about {t}.",
    "I've been trying to learn more about {t} lately.",
    "Okay, so this came up at dinner with my parents.",
    "My brother sent me a message about {t} this morning.",
    "I was doing a crossword puzzle over breakfast.",
)
REMARKS = (
    "Somebody mentioned {k}, and I realised I wasn't sure about it.",
    "Nobody could agree, and it went on for ages.",
    "I thought I knew the answer, but now I'm not so sure.",
    "We looked it up, but the websites said different things.",
    "It kept bugging me the whole way home.",
    "I said I'd ask you, because you usually know this stuff.",
    "My memory says one thing, but I don't trust it.",
    "It's one of those things you feel you should just know.",
    "I guessed, but I'd like to be sure before I say anything.",
    "And now I really want to settle it.",
)
ASK_LEADS = ("So,", "Anyway,", "So my question is,", "So tell me,", "Basically,", "")
# fmt: on
STOPWORDS = frozenset(
    "a an the and or but so of to in on at by for with from into about as is are was were be been being "
    "it its it's this that these those there here what which who whom whose when where why how do does "
    "did done have has had i you he she we they me him her us them my your his our their not no yes "
    "very just also more most some any all can could would should will shall may might must than then "
    "well okay sure right really quite one two like know think good question answer thing things "
    "wait sorry hang hold mean exactly said tell called name named first last many much else worth "
    "knowing built made born known".split()
)
# Words that can start a sentence but read fine lowercased after "Well," or "So,".
LOWER_OK = frozenset("the that that's it it's there there's when a an".split())
