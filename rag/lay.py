"""Everyday words for research concepts: what a lay question's words stand for in the abstracts' vocabulary.

A person asks about "chatbots that make things up"; the abstracts say "large language models" and
"hallucination". MiniLM links some everyday wording to the technical term and misses the rest, and keyword
search cannot link them at all. This table is general vocabulary of the field, written from how people talk
about it (not from any question set); the understanding stage reads it once per question
(`QueryAnalysis.lay_terms`) and retrieval adds the terms to what dense search embeds.

Each row: a pattern over the lower-cased question, and the terms it stands for. Rows are independent; every
matching row adds its terms. Keep patterns specific: a word that is also the technical term ("privacy",
"robot") needs no row.
"""

from __future__ import annotations

import re

# fmt: off
_ROWS: list[tuple[str, str]] = [
    # -- kinds of model ------------------------------------------------------------------------------------------
    (r"chat ?bots?|ai (?:assistant|chat)s?|chat assistants?|ai that (?:writes|talks|chats)|talking ai|text generators?"
     r"|writing (?:ai|assistants?)|autocomplete", "large language models"),
    (r"(?:picture|image|art|photo|drawing)[- ](?:making|creating|producing)|(?:picture|image|art|photo) "
     r"(?:generators?|makers?)|ai (?:art|that (?:draws|paints))|text[- ]to[- ](?:image|picture)",
     "image generation models"),
    (r"(?:removing|remove|removes|clean(?:ing|s)? up) (?:the )?noise|noise[- ]remov\w+|start(?:s|ing)? from "
     r"(?:pure )?(?:noise|static)|de-?nois\w+", "denoising diffusion models"),
    (r"video (?:generators?|making)|(?:make|makes|making|generate|generates) (?:a )?videos?", "video generation"),
    (r"think(?:ing|s)? (?:ai|models?)|reasoning (?:ai|models?)|think(?:s|ing)? (?:step by step|out loud|it through)"
     r"|show(?:s|ing)? (?:its|their) work|work(?:s|ing)? (?:it|things) out step", "reasoning models chain-of-thought"),
    (r"(?:hidden|inner|internal|private) (?:thoughts?|thinking|reasoning)|scratch ?pad|thought process",
     "chain-of-thought latent reasoning"),
    (r"specialists|specialist (?:sub-?)?networks?|team of (?:experts|specialists)|expert (?:sub-?)?networks?",
     "mixture of experts"),
    (r"pictures? and (?:words|text)|(?:images?|photos?) and (?:words|text)|see and (?:read|talk)"
     r"|(?:looks? at|understands?) (?:both )?(?:pictures|images|photos)", "vision-language models multimodal"),
    (r"self-?driving|driverless|autonomous (?:cars?|vehicles?)", "autonomous driving"),
    (r"robots?|robotic arms?|household helpers?", "robotics embodied agents"),
    (r"ai agents?|agents? that (?:use|browse|click|act)|(?:use|using) tools|browse the web", "LLM agents tool use"),
    (r"team of (?:ais|agents|bots)|several (?:ais|agents|bots)|(?:ais|agents|bots) (?:working|work) together",
     "multi-agent systems"),
    # -- how models learn ----------------------------------------------------------------------------------------
    (r"(?:a )?few examples|handful of examples|(?:examples|demonstrations) in the (?:prompt|question|instructions)"
     r"|learn(?:s|ing)? (?:a new task )?from examples", "in-context learning few-shot"),
    (r"student (?:model|network)s?|teacher (?:model|network)s?|small(?:er)? model learn\w* from a (?:big|large)\w*",
     "knowledge distillation"),
    (r"(?:shrink\w*|squeez\w*|slim\w* down|compress\w*|smaller and cheaper|make (?:it|them|models?) smaller)",
     "model compression pruning quantization distillation"),
    (r"fewer bits|lower precision|round(?:ing|s|ed)? (?:off )?(?:the )?(?:numbers|weights)", "quantization"),
    (r"(?:cut(?:ting)?|trim(?:ming)?|remov(?:e|ing)|drop(?:ping)?) (?:out )?(?:parts|pieces|connections|neurons"
     r"|layers) (?:of|from) (?:the )?(?:network|model)", "pruning"),
    (r"thumbs[- ]?(?:up|down)|what (?:people|humans|users) (?:like|prefer|want)|human (?:ratings|feedback|preferences?)"
     r"|(?:people|humans|users) (?:rate|rank|prefer)", "human preference alignment reward model RLHF"),
    (r"trial and error|rewards? and punishments?|learn(?:s|ing)? by doing|(?:gets?|earns?|getting) (?:a )?rewards?",
     "reinforcement learning"),
    (r"(?:old|past|recorded|logged|stored) (?:data|experience|records)\b.{0,60}\b(?:never|without|cannot|can't) "
     r"(?:try|trying|experiment|explor)", "offline reinforcement learning"),
    (r"final polish|polish(?:es|ing)? (?:it|them|the model)|fine-?tun\w+|after (?:the )?(?:main )?training"
     r"|extra training", "fine-tuning instruction tuning"),
    (r"forget(?:s|ting)? (?:what|old|earlier|previous|things)|(?:lose|loses|losing) (?:old|earlier|previous) skills",
     "catastrophic forgetting continual learning"),
    (r"without (?:any )?(?:labels|labelled|labeled|answers|annotations)|no (?:labels|labelled"
     r"|labeled) (?:data|examples)",
     "self-supervised unsupervised learning"),
    (r"(?:made|make|makes|making)(?: things| stuff| facts| answers| sources)?[- ]up|invent(?:s"
     r"|ing)? (?:facts|answers|things)|confidently wrong|hallucinat\w*",
     "hallucination"),
    # -- what people worry about ---------------------------------------------------------------------------------
    (r"(?:trick|fool)(?:s|ing|ed)? (?:the |an? )?(?:ai|model|chatbot|assistant|system)s?|jailbreak\w*"
     r"|break(?:ing)? (?:its|the|their) (?:own )?rules|say (?:harmful|bad|dangerous)|hack(?:er|ers|ing)",
     "jailbreak adversarial attacks red-teaming safety"),
    (r"written by (?:an? )?(?:ai|machine|computer|bot)|ai[- ]written|machine[- ]written|(?:spot|detect|tell)\w* "
     r"(?:ai|machine)[- ]generated", "detecting machine-generated text watermarking"),
    (r"private (?:messages|data|information|records)|personal (?:data|information|details)"
     r"|leak\w* (?:private|personal)",
     "differential privacy"),
    (r"(?:treats?|treating) (?:groups|people|everyone) (?:fairly|unfairly|equally|differently)|unfair|discriminat\w*",
     "fairness bias"),
    (r"explain(?:s|ing)? (?:why|how) (?:the |an? )?(?:ai|model|network|computer)|why (?:the |an? )?(?:ai|model) "
     r"decide", "interpretability explainability"),
    (r"(?:look(?:ing)?|peek(?:ing)?|see(?:ing)?) inside (?:the |an? )?(?:ai|model|network|brain)|what (?:is|'s) "
     r"(?:going on|happening) inside", "mechanistic interpretability"),
    (r"how (?:sure|certain|confident) (?:the |an? |it )|knows? (?:when|what) it (?:does ?n[o']t know|is wrong)"
     r"|(?:admit|say)s? (?:it is|it's) (?:not sure|unsure)", "uncertainty calibration"),
    (r"fake (?:photos?|images?|pictures?|videos?)|deep ?fakes?|doctored|(?:edited|altered|manipulated) "
     r"(?:photos?|images?|pictures?)", "deepfake detection image forensics"),
    (r"cheat(?:s|ing)? on (?:the )?(?:tests?|exams?|benchmarks?)|(?:seen|saw) the (?:test|exam) (?:questions|answers)"
     r"|test questions (?:leaked|in (?:the|its) training)", "data contamination benchmark"),
    (r"memori[sz]\w*|copy(?:ing)? (?:its |their )?training data|regurgitat\w*", "memorization"),
    # -- what models are used for --------------------------------------------------------------------------------
    (r"look(?:s|ing)? (?:things|stuff|facts) up|search(?:es|ing)? (?:the web|documents|a library) (?:before|to) "
     r"answer|(?:look|looks|looking) up (?:documents|sources)|open-book", "retrieval-augmented generation"),
    (r"long (?:documents?|texts?|books?|conversations?|inputs?)|whole books?|(?:read|reads|reading) (?:an? )?"
     r"(?:entire|whole|long) ", "long context"),
    (r"longer (?:than|inputs than) (?:it|they|what) (?:was|were|saw|has seen)|longer (?:texts?|problems?|inputs?) than",
     "length generalization"),
    (r"(?:runs?|running) on (?:a |your )?(?:phone|laptop|small device)|cheaper to run|(?:faster|quicker) answers"
     r"|speed(?:s|ing)? up (?:the )?(?:answers?|replies|responses|chatbots?|models?)|(?:less|lower) memory",
     "efficient inference"),
    (r"word choices?|(?:how )?(?:adventurous|creative|random|predictable|cautious) (?:or \w+ )?(?:its |the )?"
     r"(?:words|answers|writing)|picks? (?:the )?next word", "decoding sampling temperature"),
    (r"(?:guess(?:es|ing)?|draft(?:s|ing)?|propos(?:e|es|ing)) (?:several|many|a few) words at once"
     r"|(?:small|smaller|cheaper) model (?:drafts|guesses|writes)", "speculative decoding"),
    (r"fill(?:s|ing)? in (?:the )?(?:blanks|missing words|gaps)|words in any order", "masked language modeling"),
    (r"math(?:s|ematics)? (?:problems?|questions?|homework|tests?|olympiads?)|word problems", "mathematical reasoning"),
    (r"(?:write|writes|writing) (?:computer )?(?:code|programs?|software)|computer programs?", "code generation"),
    (r"translat\w+ (?:between|from|into)|(?:other|different|foreign) languages?", "machine translation multilingual"),
    (r"weather|rainfall|(?:weather|storm|rain|climate) forecast\w*", "weather forecasting"),
    (r"predict(?:s|ing)? (?:future|what comes next|next) (?:values|numbers|readings)|sensor readings",
     "time series forecasting"),
    (r"x-?rays?|medical (?:scans?|images?)|(?:brain|mri|ct) scans?|doctors?|patients?|hospitals?",
     "medical clinical"),
    (r"summar(?:y|ies|ise|ize|ising|izing)", "summarization"),
    (r"fake news|false (?:claims|information|stories)|misleading (?:posts|claims"
     r"|news)", "misinformation fact-checking"),
    (r"recommend\w* (?:products|movies|songs|videos|items|things)|what to (?:watch|buy|listen to) next",
     "recommender systems"),
    (r"spreadsheets?|(?:tables|rows and columns) of (?:data|records|numbers)", "tabular data"),
    (r"3-?d (?:scenes?|models?|shapes?|worlds?) from (?:photos|pictures|images)|(?:photos|pictures) into 3-?d",
     "3D reconstruction novel view synthesis"),
    (r"(?:social )?networks? of (?:friends|people|connections)|who (?:knows|follows|is connected to) whom"
     r"|(?:connections|links) between (?:people|things|nodes)", "graph neural networks"),
    (r"fake (?:data|records|tables)|(?:made-up|synthetic|artificial) (?:data|records|tables|examples)",
     "synthetic data generation"),
    (r"(?:board|video) games?|chess", "game playing"),
    (r"stock(?:s| market)|(?:stock|crypto\w*|currency|algorithmic) trading|(?:money|financial) (?:markets?|data)",
     "finance"),
    (r"buyers?|sellers?|auctions?|bidding|(?:set|setting) prices", "markets mechanism design auctions"),
    (r"elections?|voters?", "social choice voting"),
    (r"classrooms?|pupils|schoolchildren|tutor(?:s|ing)?", "education"),
    (r"outbreaks?|epidemics?|pandemics?|spread(?:s|ing)? (?:of )?(?:a )?(?:disease|virus|illness|infection)"
     r"|catch(?:es|ing)? (?:a|the) (?:bug|virus|cold|flu)", "epidemic contagion"),
    (r"stars?|planets?|galax\w+|telescopes?|solar system|outer space", "astrophysics astronomy"),
    (r"new (?:medicines|drugs)|drug (?:design|discovery)", "drug discovery molecules"),
    (r"dna|genes|genomes?", "genomics"),
    (r"(?:recogni[sz]\w*|spot\w*|find\w*|detect\w*) (?:objects|things|people|cars) in (?:photos|pictures"
     r"|images|videos)",
     "object detection image recognition"),
    (r"(?:sharpen\w*|fix\w*|clean\w* up|restor\w*) (?:blurry|old|damaged|noisy) (?:photos|pictures|images)",
     "image restoration super-resolution"),
    (r"in the style of|(?:change|changing|copy|copying) (?:the )?style", "style transfer"),
    (r"(?:tiny|small|invisible|imperceptible) changes? to (?:an? |the )?(?:photo|picture|image|input)s?",
     "adversarial examples robustness"),
    (r"(?:never|not) (?:been )?(?:taught|seen|trained on|shown)|unfamiliar (?:things|inputs|situations)"
     r"|unusual inputs", "out-of-distribution detection generalization"),
    (r"(?:check|checks|checking|grade|grades|grading) (?:its|their) own (?:answers|work|guesses|outputs)"
     r"|double-check\w*|catch(?:es)? (?:its|their) own mistakes", "self-verification self-correction"),
    (r"(?:ai|model|chatbot)s? (?:judg\w+|grad\w+|scor\w+) (?:the )?(?:answers|outputs|work) of", "LLM-as-a-judge"),
    (r"teach(?:es|ing)? (?:it|them)sel(?:f|ves)|self-taught|improv\w+ (?:on|by) (?:its|their) own",
     "self-improvement self-training"),
    (r"\blie\b|lying|deceiv\w*|decept\w*|cover(?:s|ing)? (?:it |this |that )?up|scheming|behind (?:their"
     r"|our|its) backs?",
     "deception scheming"),
    (r"(?:supervis\w+|oversee\w*|oversight of|keep(?:ing)? in check|control(?:ling)?) (?:the |an? )?(?:ai|model)s?"
     r"|people supervising", "AI oversight alignment"),
    (r"(?:harmful|dangerous|unsafe|toxic) (?:answers|outputs|content|requests"
     r"|replies)", "safety alignment harmful content"),
    (r"electricity (?:use|bills?|costs?|consumption)|energy (?:use|bill|cost)|carbon (?:footprint|emissions)"
     r"|power[- ]hungry", "energy efficiency compute cost"),
    (r"cheaper to train|cost of training|training costs?|(?:less|fewer) (?:computers|gpus|compute)",
     "training efficiency compute"),
    (r"remember(?:s|ing)? (?:earlier|previous|past|old) (?:conversations|chats|messages)", "long-term memory"),
    (r"wrong labels|mislabel\w*|mistakes in the (?:labels|answers)", "label noise"),
    (r"copyright\w*|artists'? (?:work|images)", "copyright data attribution"),
]
# fmt: on

LAY_TERMS: list[tuple[re.Pattern[str], str]] = [(re.compile(rf"\b(?:{p})\b", re.I), terms) for p, terms in _ROWS]


def lay_terms(text: str) -> list[str]:
    """The technical terms the text's everyday words stand for, each once, in table order; none the text already
    uses ("detecting hallucinations" needs no "hallucination", and no second embedding)."""
    return lay_reading(text)[0]


def lay_reading(text: str) -> tuple[list[str], list[str]]:
    """One pass of the table over the text: `lay_terms`, and the text's words that some row translates (lower-cased,
    "chatbot" of "a chatbot's answers"). Those words are stand-ins: that no abstract writes "chatbot" does not make
    it a subject the corpus lacks, since the abstracts write what it stands for."""
    low = text.lower()
    terms: list[str] = []
    words: list[str] = []
    for pattern, row_terms in LAY_TERMS:
        spans = list(pattern.finditer(text))
        if not spans:
            continue
        if not all(w[:6] in low for w in row_terms.lower().split()):
            terms.append(row_terms)
        words += [w for m in spans for w in re.findall(r"[\w-]+", m.group(0).lower())]
    return list(dict.fromkeys(terms)), list(dict.fromkeys(words))
