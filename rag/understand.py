"""Query understanding: a question (and the chat before it) -> one typed `QueryAnalysis`, computed once.

Retrieval filters and the answerer branch on the analysis; nothing downstream parses the question again.

How a question is understood:
1. follow-up or not: only a question that refers back (a pronoun, "the first one", "that paper", an ellipsis
   such as "and in 2024?") is read with the chat before it; a self-contained question stands alone;
2. entities, each resolved against the catalog with a confidence: papers (arXiv id, quoted title, a name only
   one paper uses such as "TarFlow", or the paper under discussion), authors, affiliations, venues, periods;
3. the intent: the first row of `ROUTES` whose cue matches AND whose required entity was found. A cue word
   alone ("arXiv", "published", "when") never decides: a single-paper fact needs a paper identified
   confidently, a listing needs the name it lists by; everything else is a topical question.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from rag.catalog import Catalog, NameMatch
from rag.catalog_store import CAPITALISED, NAME_TOKEN
from rag.coverage import MODEL_NOUNS, PAPER_NOUNS
from rag.lay import lay_reading
from rag.models import CONFIDENT, Entity, EntityKind, Fact, Intent, Message, Order, QueryAnalysis
from rag.rewrite import condense, papers_named
from rag.text import fold


# -- cues: what a question asks, as words ------------------------------------------------------------
def _cue(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


ASKS_AUTHORS = _cue(
    r"\bwho\s+(wrote|authored|co-?authored|created|developed|proposed|introduced|published|made|is behind|"
    r"are behind|came up with|did|worked on|is responsible)\b|\bwho are (the|its|their) (authors|researchers|people)\b"
    r"|\b(its|their|the paper's) authors\b|\bauthors?\s+(of|for|on)\b|\bwhich (people|researchers|authors)\b"
    r"|\bwritten by\b|\bwho(se)? (paper|work) (is|was)\b|\b(list|name|give) the authors\b|\bthe authors\?"
)
ASKS_ARXIV_ID = _cue(
    r"\barxiv\s*(id|identifier|number|no\.?|link|url|page|abs|entry|reference)\b"
    # "the link for it", "the id of the TarFlow paper"; not "a direct link is a reinforcing one (the ... kind of)", nor
    # "a face ID system to work on images" (an identifier named, not asked for)
    r"|\b(?:the|its|their|that|this|me)\s+(id|identifier|link|url)\s+(?:number\s+|address\s+)?(of|for|to)\b"
    # "a link to it"; not "a link to starburst galaxies" (a connection)
    r"|\ban?\s+(?:id|identifier|link|url)\s+(?:of|for|to)\s+(?:it|them|this|that|the\s+(?:paper|pdf|article|preprint))\b"
    # "where can I find it / the paper on X"; not "where can I read about X", "find an overview of X" (topical)
    r"|\bwhere can i (find|read|get|download) (it|them|this|that|the (paper|pdf|article)|a copy)\b"
    r"|\bwhat(')?s (its|the|their) (id|identifier|link|url)\b|\bis\b[^?]*\bon arxiv\b"
)
ASKS_VENUE = _cue(
    # not "what conference reviewers reward", "which conference papers study X": the venue word describes a noun
    r"\b(which|what)\s+(conference|venue|journal|workshop|proceedings)\b(?!\s+(?:reviewers?|reviews?|organi[sz]ers?"
    r"|attendees|talks?|deadlines?|committees?|submissions?|papers?|policies|rankings?|chairs?)\b)"
    r"|\bwhere\s+(was|is|were|did|has)\b[^?]*\b(published|accepted|presented|appear)"
    r"|\b(accepted|published|presented|appear(ed)?)\s+(at|to|in)\s+(which|what)\b"
    # "was it accepted", "is the TarFlow paper peer-reviewed"; not "is there a limit on how often a guess can be
    # accepted" (a modal's passive: what happens to something else)
    r"|\b(was|is|were|has been|got)\b(?:\s+(?!(?:can|could|be|will|would|should|may|might|must|to)\b)[^\s?]+)*?"
    r"\s+(accepted|peer[- ]reviewed)\b"
)
ASKS_DATE = _cue(
    r"\bwhen\s+(was|were|did|is|has)\b[^?]*\b(published|posted|released|written|submitted|out|appear\w*|"
    r"uploaded|announced|made|listed|come|came)\b"
    # not "when did weight matching come out ahead" (win)
    r"(?!\s+(?:out\s+)?(?:ahead|on\s+top|better|worse|best|first|last|differently|in\s+front))"
    r"|\bwhat\s+(year|date|month)\b|\bwhich\s+(year|month)\b"
    r"|\bpublication date\b|\bdate of\b|\bhow (old|recent) is\b"
)
COMPARES = _cue(
    r"\bcompar(e|es|ed|ing|ison)\b|\bdiffer(ence|ences|s|ent)?\s+(between|from)\b|\bvs\.?\s|\bversus\b"
    r"|\bwhich (is|one is|one|of them is)\s+(better|faster|slower|cheaper|more|less|stronger)\b"
    r"|\bhow (does|do)\b[^?]*\b(differ|compare)\b|\b(better|worse|faster|slower|cheaper|stronger) than\b"
    r"|\b(which|what) is (better|faster|slower|cheaper)\b"
)
LISTS = _cue(
    r"\b(which|what|list|show|any|all|name|find)\b[^?]*\b(papers?|works?|articles?|publications?|preprints?)\b"
    r"|\b(papers?|works?|articles?|publications?)\s+(by|from|at|of|in|accepted|published|presented|dated)\b"
    r"|^\s*(list|show)\b"
)
LISTS_BY_NAME = _cue(  # the name is found separately: these say the question asks what it wrote or produced
    r"\b(by|from|at)\b|\b(did|has|have|does|do)\b[^?]*\b(write|wrote|written|co-?author\w*|publish\w*|work\w*|"
    r"release\w*|put out|do)\b|\b(papers?|works?|articles?|publications?)\b|\bwhat else\b|'s\b|\blist\b"
)
CHITCHAT = _cue(  # small talk, or a question about the assistant itself
    r"^\s*(hi|hello|hey|howdy|good (morning|afternoon|evening)|thanks?( you)?( so much| a lot)?|thank you|thx|ty|"
    r"cheers|bye|goodbye|ok(ay)?|cool|great|nice|who are you|what are you|what can you do|how are you|"
    r"help|what do you know|are you (a bot|an ai|human))\b[\s!.?,]*(there|again|bot|paperchat)?[\s!.?,]*$"
    r"|^\s*(thanks|thank you|thx|ty|cheers)\b[^?]*$"
    r"|\b(are|were|built|made|created|trained|running|run|programmed|powering|powers) you\b|\byou (running|built)\b"
    r"|\b(use|using|about) (this|the) (assistant|bot|chatbot|tool|app|chat)\b|\bwho are you\b"
)
WHICH_BETTER = _cue(  # a choice between alternatives, named or not
    r"\bwhich (is|one|of (them|the two|these|those))\b[^?]*\b(better|faster|slower|cheaper|more|less|fewer|higher|"
    r"lower|bigger|smaller)\b|\b(is|are)\b[^?]{1,60}\b(better|worse|faster|slower|cheaper) than\b"
)
MANY = _cue(r"\b(papers|works|studies|articles|publications|preprints)\b|\b(which|list|all|any)\b[^?]*\bpapers?\b")
# Papers asked for by date: the newest or the oldest first. Only of papers ("the latest paper on X", "her earliest
# work", "which paper is the oldest?", "what did she publish most recently?"): "the latest findings on X" asks for
# findings and "the first paper to propose X" for an origin, both answered as any topic.
_PAPER_NOUN = r"(?:papers?|works?|stud(?:y|ies)|articles?|publications?|preprints?|ones?|entr(?:y|ies)|additions?)"
_NEWEST = (
    r"(?:latest|newest|most\s+recent(?:ly\s+(?:published|posted|released|written|added))?|most\s+up[- ]to[- ]date)"
)
_OLDEST = r"(?:oldest|earliest|least\s+recent)"
_PUBLISHED = r"(?:publish(?:ed)?|post(?:ed)?|release[sd]?|write|wrote|written|put\s+out|c[oa]me\s+out|added)"


def _by_date(adjective: str, adverb: str, extra: str) -> re.Pattern[str]:
    return _cue(
        rf"\b{adjective}\s+(?:[\w-]+\s+)?{_PAPER_NOUN}\b"  # "the latest (diffusion) paper"
        rf"|\b{_PAPER_NOUN}\s+(?:is|are|was|were|came)\s+(?:the\s+)?{adjective}\b"  # "which paper is the oldest"
        rf"|\b(?:is|are|was|were)\s+(?:the\s+)?{adjective}\s*\??\s*$"  # "which of Stanford's is the newest?"
        rf"|\b{_PUBLISHED}\s+(?:\w+\s+)?{adverb}\b|\b{adverb}\s+{_PUBLISHED}\b"  # "published most recently"
        rf"|\b{adjective}\s+first\b|\bfrom\s+(?:the\s+)?{adjective}\b"  # "newest first", "from oldest to newest"
        rf"|{extra}"
    )


ORDERS: tuple[tuple[re.Pattern[str], Order], ...] = (
    (_by_date(_NEWEST, r"(?:most\s+recently|last|latest)", r"\breverse[- ]chronological"), "newest"),
    (_by_date(_OLDEST, r"(?:earliest|first|least\s+recently)", r"\bchronological(?:ly)?\b|\b(?:by|in)\s+date\b"),
     "oldest"),
)
# Not the subject: "most recent", "chronologically" ("oldest" is no word a paper lacks).
ORDER_WORDS = _cue(
    rf"\b(?:{_NEWEST}|{_OLDEST}|most\s+recently|least\s+recently|(?:reverse[- ])?chronological(?:ly)?|order|date"
    r"|sort(?:ed)?|three|four|five|six|seven|eight|nine|ten|twenty|few|couple|several|handful)\b"
)
# How many papers the corpus holds, on a topic or at all: "how many papers are about X", "the number of papers on
# X". Not a count a paper states: "how many papers does the survey cover" (a detail of that survey).
COUNTS = _cue(
    rf"\b(?:how\s+many|(?:the\s+)?(?:number|count)\s+of)\s+(?:[\w-]+\s+)?{_PAPER_NOUN}\b"
    r"(?!\s+(?:does|do|did|has|have|had)\s+(?:the|this|that|these|those|its|their|it)\s+(?!corpus|collection|catalog"
    r"|database|index)\w)"
    r"|\bcount\s+(?:the\s+|all\s+)?(?:papers|works|articles|studies|publications)\b"
)


def order_asked(question: str) -> Order | None:
    return next((order for cue, order in ORDERS if cue.search(question)), None)


# A follow-up refers back: to papers of the chat (a pronoun, "the first one", "that paper") ...
REFERS_TO_PAPERS = _cue(
    r"\b(it|its|it's|they|them|their|theirs|he|she|him|his|her|hers|both|either|former|latter)\b"
    r"|\b(of|from|among|between) (those|these|them)\b|\bwhich one\b|\bthe (two|three|both) (of them)?\b"
    r"|\b(this|that|these|those|the same|the other|the above|the previous|the earlier)\s+(paper|papers|work|works|"
    r"study|studies|one|ones|method|methods|model|models|approach|result|results|authors?|dataset|benchmark|"
    r"technique|framework|idea)\b"
    # not "the latest paper on diffusion models": a new subject follows
    r"|\bthe\s+(first|second|third|fourth|fifth|last|latest|earliest)(\s+one|\s+paper)?+\b"
    r"(?!\s+(?:on|about|in|from|by|of|for|regarding|concerning|that|which|to|with)\b)"
    r"|\b(that|this|those|these)\s*\??\s*$"
    # "converted to that, and how?", "anything like this for images?": the pronoun after a preposition, ending a phrase
    r"|\b(?:to|with|from|on|of|in|for|about|like|than|into|by)\s+(?:that|this)\s*(?:[,;:?!]|$|\s+for\b)"
    # "How much training time does that save?", "Does this work for text?": that / this as the subject, first thing
    # asked
    r"|^\W*(?:(?:how|why|what|when|where|who|which)\b(?:\s+[\w-]+){0,3}\s+)?"
    r"(?:does|do|did|is|was|are|can|could|would|will|should|has|have)\s+(?:that|this)\b"
)
# ... or to the previous question: an opening that continues it ("and for pizza?", "what about 2024?", "why?").
CONTINUES = _cue(
    r"^\s*(and|but|also|so|then|what about|how about|ok(ay)?|same)\b|^\s*(why|how|who|when|where)\s*\?*\s*$"
)
# A specific detail: the answer is a number, a name or a command the abstract either states or does not.
DETAILS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "how many GPUs were used", "and on how many seeds": "how many" opening the question or a clause; not after a
    # verb ("decide / tell us / ask how many X", "bad at tallying how many"): a way of choosing or the subject itself
    (
        _cue(
            r"(?:^|[.?!;:,(\"']|\b(?:and|or|but|so|then|also|in|on|for|with|by|across|over|from|of|under|within|me))"
            # "about how many" is "roughly" only there: in "disagree about how many protons" the count is the subject
            r"\s*(?:(?:exactly|roughly|approximately|about|just)\s+)?\bhow many\s+"
            # "how many of ResNet-50's weights", "how many of the layers": the weights, the layers
            r"(?:of\s+(?:the|its|their|these|those|[\w.-]+['’]s)\s+)?((?:[a-z0-9-]+\s+){0,2}[a-z0-9-]+)"
        ),
        "number of {0}",
    ),
    (
        _cue(
            r"\bwhat\s+(?:is|was|were|are)?\s*the\s+(exact\s+)?(number|percentage|amount|accuracy|size|cost|"
            r"learning rate|batch size|value|score|speedup|count)\b"
        ),
        "{1}",
    ),
    (
        _cue(
            r"\b(which|what)\s+(exact\s+)?(hardware|gpus?|datasets?|license|command|programming language|"
            r"hyperparameters?|learning rate|batch size|random seed|optimizer)\b"
        ),
        "{2}",
    ),
    # "by what percentage did ... drop", "by how much", "by what factor": a size of change
    (_cue(r"\bby\s+what\s+(?:percentage|percent)\b"), "percentage"),
    (_cue(r"\bby\s+how\s+much\b"), "amount"),
    (_cue(r"\bby\s+what\s+(factor|margin)\b"), "{0}"),
    # "which base models did the PLoP experiments use", "which LLMs was TempNet tested on": the models one work used,
    # with a verb of experimenting and the work named (a method's name, "the experiments", "it"); "which models
    # predict X" or "what models are used for X" ask for papers, not a detail
    (
        _cue(
            r"\b(?:which|what)\s+(?=[^?]*(?:(?-i:\b[A-Z][a-z]*[A-Z][\w-]*\b)|\bthe\s+(?:paper|experiments?|study|"
            r"authors|work)\b|\b(?:it|they|its|their)\b))(?:exact\s+)?((?:(?-i:[A-Z][\w.-]*)\s+|base\s+|"
            rf"language\s+|backbone\s+|pre-?trained\s+|open\s+|foundation\s+){{0,3}}(?:{MODEL_NOUNS}))\b"
            r"(?=(?:\W+[\w-]+){0,4}?\W+(?:used|use|uses|tested|test|tests|evaluated|evaluate|evaluates|trained|"
            r"fine-?tuned?|experiments?|built|based|ran|run)\b)"
        ),
        "{0}",
    ),
)

# A subject the question rules out: "not about images", "that do not use reinforcement learning", "other than
# TarFlow". Only a negated verb of aboutness counts: "does not improve reasoning" is a finding asked about, and
# "without backpropagation" is the subject itself ("fine-tuning without backpropagation"), so neither is here.
# A ruled-out subject's words: up to punctuation, but a parenthesis inside it is kept ("hidden (latent) variables").
SUBJECT = r"(?:[^,.;:?!()]|\([^()]*\))+"
NEGATED = _cue(
    # the connective goes with the clause: "papers that are not about X"; so does the asker ("I'm not interested in X")
    r"(?:\b(?:that|which|who|but|and|I|we)\s+|\b(?:I'm|I\s+am|we're|we\s+are)\s+)?"
    r"\b(?:(?:do|does|did|are|is|were|was)\s*(?:not|n't)\s+|not\s+)(?:about|on|using|use|uses|involving|involve|"
    r"study|studying|focus(?:ed|ing)?\s+on|address|addressing|based\s+on|related\s+to|concerned\s+with|concerning|"
    r"apply|applying|employ|employing|rely\s+on|relying\s+on|depend\s+on|depending\s+on|deal\s+with|dealing\s+with|cover|covering|"
    rf"mention|mentioning|propose|proposing|built\s+(?:on|upon|around)|bring\s+in|bringing\s+in"
    # "I'm not interested in X", "I don't want anything about X" (not "want to ...": what is wanted)
    r"|interested\s+in|want(?!\s+to\b)"
    # "that don't build their method on KL divergence"
    r"|(?:build|base|ground)\s+(?:(?:their|its|the)\s+(?:\w+\s+)?)?(?:on|upon|around))\s+"
    rf"(?P<x>{SUBJECT})"
    # "without a focus on medical imaging"; "without" alone is the subject itself ("without backpropagation")
    r"|\bwithout\s+(?:a\s+|any\s+)?(?:focus(?:ing)?\s+on|being\s+about|relying\s+on|depending\s+on)"
    rf"\s+(?P<v>{SUBJECT})"
    # "that have nothing to do with language models", "unrelated to vision"
    rf"|(?:\b(?:that|which|who)\s+)?\b(?:ha(?:ve|s|d)\s+nothing\s+to\s+do\s+with|(?:are|is|were|was)?\s*unrelated\s+to"
    rf"|with\s+no\s+(?:connection|relation)\s+to)\s+(?P<u>{SUBJECT})"
    rf"|\b(?:excluding|except(?:\s+for)?|other\s+than|apart\s+from|aside\s+from|besides|but\s+not|not\s+counting|outside\s+of"
    r"|outside\s+the\s+(?:context|realm|domain|area|field|world|scope|setting)\s+of"
    rf"|(?:leaving|setting|putting)\s+aside|leaving\s+out"
    # "which papers ... without using DPO", "without involving RL": only where papers are asked for; else the subject's
    # own ("how can I pick a data mix without doing a full training run")
    r"|without\s+(?:using|involving|doing|employing|applying|bringing\s+in)"
    # "which papers use distillation for vision models rather than (for) language models"
    rf"|rather\s+than(?:\s+(?:just|only|simply|merely))?(?:\s+(?:in|into|to|on|for|with))?)\s+(?P<y>{SUBJECT})"
    # "leave out the ones about X", "skip anything about X", "not the ones that X": pointing at papers, so asking for
    # them whatever else the question says ("skip connections" is a subject)
    r"|\b(?:(?:(?:leave|leaving)\s+out|skip|ignore|omit|drop|exclude|filter\s+out)"
    r"(?=\s+(?:the\s+|any\s+)?(?:anything|everything|those|ones?|papers?|works?|studies|articles?|results?)\b)"
    r"|not(?=\s+(?:the\s+)?(?:ones?|those)\s+(?:that|which|about|on|using|doing|applying|with)\b))"
    rf"\s+(?P<i>{SUBJECT})"
    # "papers on medical imaging [that are not / aren't] surveys": the papers asked for are not a kind of paper. Only
    # with the papers as the verb's subject: in "papers showing that models are not robust" it is a finding. Not
    # "work(s)", also a verb: in "a method that works on data that is not labelled" "labelled" is the subject.
    r"|\b(?:papers?|studies|articles?|ones)(?:\s+(?:on|about|in|from|for|with|of|using)\s+"
    r"(?:(?!\b(?:whether|that|which|if|why|how|when|what|who)\b)[^,.;:?!()])*?)?"
    r"(?P<copula>\s+(?:that\s+|which\s+)?(?:are|were|is|was)\s*(?:not|n't)\s+)(?:(?:a|an)\s+)?"
    r"(?!(?:about|on|in|from|by|published|accepted|peer|available|open|released|listed|related|based|built)\b)"
    rf"(?P<w>{SUBJECT})"
)
# "other than", "except", "but not" rule a subject out only in a question asking for papers: in "optimize something
# other than the average return" or "general but not robust" they describe the subject instead.
# Asking what the corpus holds is asking for papers: "which models other than TarFlow does the corpus cover". Not
# "are there methods besides RLHF": the alternatives' papers are the ones that discuss RLHF most.
ASKS_FOR_PAPERS = _cue(
    rf"\b({PAPER_NOUNS})\b"
    # "has X been applied to anything other than language models": where it has been is what papers report
    r"|\b(?:applied|used|tried|extended|adapted)\s+(?:to|for|in|on|beyond)\s+(?:anything|any\s+\w+|domains?|areas?"
    r"|fields?|tasks?|problems?|modalities|settings?)\s+(?:other\s+than|besides|apart\s+from|except)\b"
    # "other than for LLMs, has anyone worked on quantization?": whether someone did the research is asked of papers
    r"|\b(?:has|have)\s+(?:anyone|anybody|someone|people|researchers)\s+(?:already\s+|ever\s+|else\s+)?(?:worked|"
    r"studied|looked|explored|investigated|researched|written|published|examined|analy[sz]ed)\b"
)
# Where the ruled-out subject ends: "not about images [and] published in 2024". A preposition of time or source ends
# it only before a date or a name ("not about images [in] 2024", "[by] Hinton"): in "other than evaluations in
# clinical settings" or "not pruning during pre-training" the phrase is part of the subject.
NEGATED_END = _cue(
    r"\s+(?:(?:and|or|but|that|which|who|whose|while|where|when|published|accepted|written|released|came|come|"
    r"appeared|study|studies|propose|proposes|use|uses|are|is|were|was|do|does|did|have|has|about|on)\b"
    r"|(?:in|from|since|by|during|before|after)\s+(?=\d|(?-i:[A-Z])|the\s+(?:last|past|year)))"
)
# "not about its effect on fairness", "not about the role of attention": what is ruled out follows.
POINTS_AT = _cue(
    r"(?:its|their|the)\s+(?:effects?|impacts?|influence|role|roles|use|uses|application|applications)\s+(?:on|of|in)\s+"
    r"(?=\S)"
)
RATHER = _cue(r"rather\b")
PAPERS_ASKED = _cue(r"\b(?:papers|studies|articles|publications|preprints)\b")  # not "works": also a verb
RELATIVE = _cue(r"\b(?:that|which|where|who|whose)\s*$")
CLAUSE_ABOUT = _cue(
    r"(?:are|is|were|was)\s+(?:(?:mainly|mostly|primarily|largely|all|just|only|really)\s+)?(?:about|on)\s+"
)
# A second ruled-out subject: "not about debating [or voting]".
NEGATED_OR = _cue(rf"\s+(?:or|nor)\s+(?:about\s+|on\s+)?(?P<z>{SUBJECT})")
# More ruled-out subjects as a list: "not about evicting tokens[ from the cache, quantizing it, or diffusion LMs]".
# What follows the first subject before the comma may only be its own prepositional phrase: in "not about RL study
# robots, planning or games" the list is what the papers study. A clause after the comma ("..., whether variational or
# Monte Carlo") describes the subject instead.
LIST_BREAK = r"(?:and|or|nor|whether|which|that|who|where|when|while|such|like|including|especially|e\.g)\b"
NEGATED_LIST = _cue(
    r"(?:\s+(?:from|in|of|for|with|to|on|by)\s+[^,.;:?!()]*?)?"
    rf"(?P<items>(?:,\s+(?!{LIST_BREAK}){SUBJECT}?)+),?\s+(?:or|nor)\s+(?:about\s+|on\s+)?(?P<z>{SUBJECT})"
)
# "excluding work on vision": the ruled-out subject is "vision"; "excluding the one where people curate samples":
# "people curate samples".
NEGATED_LEAD = _cue(
    r"^(?P<ones>(?:(?:the|a|an|any|anything|everything|those|ones?|papers?|works?|studies|articles?|results?|stuff|"
    r"things?|material|research)\s+)*)"
    r"(?:on|about|in|(?:in\s+)?(?:that|which|where|who|whose)"
    # "excluding the ones applied to images", "other than the one focused on medical imaging"
    r"|using|involving|covering|targeting|with|for"
    r"|(?:applied|focused|focusing|centred|centered|devoted|dedicated|specific|tailored|aimed|targeted|limited|"
    r"restricted|dealing|concerned)\s+(?:to|on|at|with)"
    # "leaving out the ones built on LLaDA", "not counting anything based on classifier-free guidance"
    r"|(?:based|built|building|founded|grounded|relying|depending)\s+(?:on|upon|around))\s+"
)
# "other than the ones doing it for image generation", "the ones distilling language models", "those trained on
# images": what the ones ruled out do, then their subject (a participle takes a preposition: "the ones mentioned
# above" names no subject).
SUBSET_DOING = _cue(
    r"^(?:(?:the|those)\s+)?(?:ones?|those)\s+(?:\w+ing\s+(?:(?:it|this|that|so)\s+)?(?:(?:for|on|to|in|with|about|at)\s+)?"
    r"|\w+ed\s+(?:(?:it|this|that|so)\s+)?(?:for|on|to|in|with|about|at)\s+)"
)
# "but not the ones about models [that also look at images]": a relative clause after a subject the question points
# at as some of the papers ("the ones", "those") describes it; one about publication or time does not.
SUBSET = _cue(r"\b(?:ones?|those)\s+$")
DESCRIBES = _cue(r"\s*(?:that|which|who)\s+(?P<clause>[^,.;:?!()]+)")
NOT_DESCRIBING = _cue(r"\b(?:published|accepted|posted|released|written|appeared|dated|came|not|n't)\b|\d")
# "excluding web agents [and coding agents]": after "excluding", "other than", "apart from" ..., a second subject.
# Not a clause going on ("and published in 2024", "and what do they find").
NEGATED_AND = _cue(
    r"\s+and\s+(?:about\s+|on\s+)?(?!(?:that|which|who|what|how|why|when|where|published|accepted|written|released|"
    r"are|is|were|was|do|does|did|have|has|had|their|they|them|it|its|also|then|list|show|give|tell|summari[sz]e|"
    r"explain|describe|compare|with|from|in|by|since|before|after|not|so|only|just|focus\w*|stud\w+|use\w*)\b)"
    r"(?P<z>[^,.;:?!()]+)"
)


def without_negations(text: str) -> tuple[str, list[str]]:
    """The text with its negated subjects cut out, and those subjects ("reinforcement learning")."""
    subjects: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in NEGATED.finditer(text):
        group = next(g for g in ("x", "v", "y", "w", "u", "i") if m.group(g) is not None)
        start = m.start(group)
        phrase = m.group(group)
        # "other than X" rules out papers in a question asking for papers, or pointing at some ("other than ones
        # based on X", "not counting anything built on X"); else it is the subject's own ("other than accuracy")
        pointing = SUBSET_DOING.match(phrase) or ((lead := NEGATED_LEAD.match(phrase)) and lead.group("ones").strip())
        if group == "y" and not (ASKS_FOR_PAPERS.search(text) or pointing):
            continue
        # "rather than" contrasts ways of doing the subject ("tune on single ratings rather than pairs", "is there
        # research on X rather than Y"), except where papers are what is asked for, by name: "which papers ..."
        if group == "y" and RATHER.match(m.group(0)) and not PAPERS_ASKED.search(text):
            continue
        clause = subset = False
        if doing := SUBSET_DOING.match(phrase):
            phrase, start, subset = phrase[doing.end() :], start + doing.end(), True
        elif lead := NEGATED_LEAD.match(phrase):
            phrase, start = phrase[lead.end() :], start + lead.end()
            clause = bool(RELATIVE.search(lead.group(0)))
            subset = bool(SUBSET.search(lead.group("ones")))
        if clause and (about := CLAUSE_ABOUT.match(phrase)):  # "the ones that are mainly about X": X
            phrase, start, clause = phrase[about.end() :], start + about.end(), False
        if pointer := POINTS_AT.match(phrase):  # "not about [its effect on] fairness"
            phrase, start = phrase[pointer.end() :], start + pointer.end()
        # A relative clause runs to the punctuation: "excluding work where humans curate [that] synthetic data".
        phrase = phrase.rstrip() if clause else _subject_end(phrase)
        if (subset or group in ("y", "i")) and not clause and (d := DESCRIBES.match(text, start + len(phrase))):
            if not NOT_DESCRIBING.search(d.group("clause")):  # "the ones about models [that look at images]"
                phrase = text[start : d.end()].rstrip()
        if not (subject := _subject(phrase)):
            continue
        subjects.append(subject)
        end_at = start + len(phrase)
        while alt := NEGATED_OR.match(text, end_at):  # "not about debating or voting": each one is ruled out
            if not (subject := _subject(phrase := _subject_end(alt.group("z")))):
                break
            subjects.append(subject)
            end_at = alt.start("z") + len(phrase)
        # "excluding web agents and coding agents"
        while group in ("y", "i") and (also := NEGATED_AND.match(text, end_at)):
            if not (subject := _subject(phrase := _subject_end(also.group("z")))):
                break
            subjects.append(subject)
            end_at = also.start("z") + len(phrase)
        if listed := NEGATED_LIST.match(text, end_at):  # "not about X, Y, or Z"
            items = [_subject(_subject_end(i)) for i in listed.group("items").split(",")[1:]]
            last = _subject_end(listed.group("z"))
            if all(items) and (subject := _subject(last)):
                subjects += [*items, subject]
                end_at = listed.start("z") + len(last)
        if after := re.match(r"\s+(?:and|but)\b", text[end_at:], re.I):  # "papers not on X but on Y"
            end_at += after.end()
        spans.append((m.start("copula") if group == "w" else m.start(), end_at))
    for a, b in reversed(spans):
        text = text[:a].rstrip() + " " + text[b:].lstrip()
    # "Leaving aside X, which papers ...": the cut leaves the comma at the start.
    text = re.sub(r",\s*([?.!])", r"\1", re.sub(r"\s+([?.!,])", r"\1", text))  # "papers on X, [excluding Y]?"
    if spans:  # "X? [Leave out Y.]", "X, but [skip Y].", "X - [skip Y].", "X? [Apart from Y], please."
        text = re.sub(r"[\s,]+(?:but|and)\s*([?.!]|$)", r"\1", text)
        text = re.sub(r"\s*[-–—:;]+\s*([?.!]|$)", r"\1", re.sub(r"([?.!]),?\s*please\b", r"\1", text, flags=re.I))
        text = re.sub(r"([?.!])\s*[.!]+$", r"\1", text)
    return text.strip().strip(",;: "), subjects


def _subject_end(phrase: str) -> str:
    """The ruled-out subject's phrase up to where the question goes on ("images [and] published in 2024")."""
    return phrase[: end.start()] if (end := NEGATED_END.search(phrase)) else phrase


def _subject(phrase: str) -> str:
    words = [w for w in re.sub(r"[()]", " ", phrase).split() if w.lower() not in ("the", "a", "an", "any")][:6]
    return " ".join(words) if words and topic_of(" ".join(words), []) else ""


@dataclass(frozen=True)
class Route:
    """One row of the routing table: `intent` when `cue` matches and the `needs` entity was found."""

    intent: Intent
    fact: Fact | None
    needs: EntityKind | Literal["named"] | None  # "named": two or more named papers or methods
    cue: re.Pattern[str]
    topic: Literal["any", "none"] = "any"  # "none": only when nothing but the asking is left
    bare: bool = False  # also when the question is nothing but the name ("Hattie Zhou", "stanford", "2020")


ROUTES: tuple[Route, ...] = (
    #     intent                 fact        needs          cue             topic    bare
    Route("chitchat",            None,       None,          CHITCHAT),
    Route("paper_fact",          "authors",  "paper",       ASKS_AUTHORS),
    Route("paper_fact",          "arxiv_id", "paper",       ASKS_ARXIV_ID),
    Route("paper_fact",          "venue",    "paper",       ASKS_VENUE),
    Route("paper_fact",          "date",     "paper",       ASKS_DATE),
    Route("comparison",          None,       "named",       COMPARES),
    Route("comparison",          None,       None,          WHICH_BETTER),
    Route("list_by_author",      None,       "author",      LISTS_BY_NAME,  "any",   True),
    Route("list_by_affiliation", None,       "affiliation", LISTS_BY_NAME,  "any",   True),
    Route("list_by_venue",       None,       "venue",       LISTS,          "any",   True),
    Route("list_by_period",      None,       "period",      LISTS,          "none",  True),
)  # fmt: skip
# Not routes: what is left of a question once names are out; these alone are not a topic.
ASKING_WORDS = frozenset(
    """a an the of in on for to and or is are was were be been by with what which who whom whose how when where why
    does do did done that this these those it its from as at about any there their they them me my i you your
    papers paper work works study studies article articles publication publications preprint preprints corpus
    list show give tell find name all every some anything something everything else other others
    write wrote written writing authored author authors co coauthored co-authored publish published publishing
    release released dated date year month came come out appeared appear accepted presented conference venue
    journal arxiv id identifier number link url can could would should will please have has had many much
    compare compared comparison versus vs differ difference differences between better
    also just only ever really yet still get got is topic topics regarding concerning we us our
    related relating subject area field research researched researcher researchers team group lab labs
    university institute institution affiliated affiliation people person someone one ones new recent latest
    say says said report reports mention mentions discuss discusses cover covers covered deal deals look
    looked looking know known tell behind worked working posted collection among affiliations into got old
    anywhere whats what's first second third fourth fifth last people built anyone somebody anybody whose
    ones two both want wants wanted things thing skip""".split()
)


# The clitic of a contraction: folded, "aren't" would leave "aren" as a subject word (one no paper writes).
CONTRACTION = re.compile(r"(?<=\w)(?:n['’]t|['’](?:ll|ve|re|m|d))\b", re.I)


def topic_of(text: str, remove: list[str]) -> str:
    """The subject words of `text`: what is left without the entity words and the asking."""
    gone = {w for words in remove for w in fold(words).split()}
    text = CONTRACTION.sub("", re.sub(r"\b(ca|wo)n['’]t\b", lambda m: "can" if m.group(1).lower() == "ca" else "will",
                                      text, flags=re.I))  # fmt: skip
    return " ".join(
        w for w in fold(text).split() if w not in ASKING_WORDS and w not in gone and len(w) > 1 and not w.isdigit()
    )


# Words whose misspelling must not change the route ("wich papers", "whne was", "who wrot").
CUE_WORDS = (
    "which what when where who whom whose wrote write written papers paper published posted arxiv authors author "
    "between compare versus accepted"
).split()
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1, "latter": -1, "former": 0}
ORDINAL = re.compile(r"\b(" + "|".join(ORDINALS) + r")\b", re.I)
MAX_PINNED = 5  # papers a follow-up can point into: "the fifth one"
# A title word of this idf (log(1 + titles / titles using it)) or more is used by few titles (under 2% of them):
# it can name a paper; "large", "language", "models" cannot.
DISTINCT_IDF = 4.0


class Understander:
    """Reads questions against one catalog. Cheap to build; lookups are cached on first use."""

    def __init__(
        self, catalog: Catalog, llm: Any = None, *, max_question_chars: int = 2000, history_tokens: int = 1000
    ):
        self.catalog = catalog
        self.llm = llm
        self.max_question_chars = max_question_chars
        self.history_tokens = history_tokens

    # -- corpus statistics: each one an indexed lookup in the catalog, built at ingest ------------------
    def _title_tokens(self, q_words: set[str]) -> tuple[list[tuple[str, str, list[str], set[str]]], dict[str, float]]:
        """The real titles sharing two or more content words with the question: (paper id, title, folded title
        words, its content words), and the idf over titles of each of those words."""
        asked = {w for w in q_words if w not in ASKING_WORDS and len(w) > 2}
        n = max(1, self.catalog.titled_count())
        asked_df = self.catalog.title_df(asked)
        weight = {t: math.log(1 + n / c) for t, c in asked_df.items()}
        candidates = self.catalog.titles_sharing(asked_df, weight)
        rows = []
        for pid, title, words in candidates:
            toks = {w for w in words if w not in ASKING_WORDS and len(w) > 2}
            rows.append((pid, title, words, toks))
        df = self.catalog.title_df({t for *_, toks in rows for t in toks})
        return rows, {t: math.log(1 + n / c) for t, c in df.items()}

    def normalise(self, question: str) -> str:
        """Misspelt question words corrected ('wich' -> 'which'); words the corpus uses are left alone."""

        def fix(m: re.Match[str]) -> str:
            w = m.group(0)
            low = w.lower()
            if len(low) < 4 or low in CUE_WORDS or low in ASKING_WORDS:
                return w
            close = [c for c in CUE_WORDS if OSA.distance(low, c) <= 1]
            # The corpus vocabulary is asked only for a word that could be a misspelt cue.
            return close[0] if len(close) == 1 and not self.catalog.uses_word(low) else w

        return re.sub(r"[A-Za-z]+", fix, question)

    # -- entities -------------------------------------------------------------------------------------
    def papers_in(self, text: str) -> list[Entity]:
        """Papers the text identifies: arXiv id, quoted title, a name only one paper uses, most of a title."""
        found: dict[str, Entity] = {}

        titles: dict[str, str] = {}

        def add(pid: str, conf: float, words: str) -> None:
            if pid not in found or found[pid].confidence < conf:
                if pid not in titles:
                    titles[pid] = self.catalog.by_id[pid].title
                found[pid] = Entity(kind="paper", name=titles[pid], value=pid, confidence=conf, paper_ids=[pid],
                                    text=words)  # fmt: skip

        for m in ARXIV_ID.finditer(text):
            for p in self.catalog.by_arxiv_id(m.group(1)):
                add(p.paper_id, 1.0, m.group(1))
        for pid in papers_named(text, self.catalog):
            add(pid, 1.0, self.catalog.by_id[pid].title)
        q_fold = f" {fold(text)} "
        for p in self.catalog.comments_in(text):  # a quoted page comment ("35 pages, 11 figures")
            add(p.paper_id, 0.9, next(c for c in p.comments if len(c) > 6 and fold(c) in q_fold))
        first_word = text.split()[0] if text.split() else ""
        # In the question's order, so that the first name a paper has is the one its entity shows (a set's order
        # changes from run to run).
        names = dict.fromkeys([*NAME_TOKEN.findall(text), *(w for w in CAPITALISED.findall(text) if w != first_word)])
        for tok in [t for t in names if not VENUE_ACRONYM.fullmatch(t)]:  # "NeurIPS" names a venue, not a paper
            n, ids = self.catalog.token_papers(tok.lower())
            if n and not NAME_TOKEN.fullmatch(tok):  # titles capitalise every word: "World" of "...World Models"
                n = max(n, self.catalog.word_df(tok.lower()))  # names a paper only if rare in any case
            if n == 1 and not tok.isdigit():
                add(ids[0], 0.9, tok)
            elif 1 < n <= 3:
                for pid in ids:
                    add(pid, 0.4, tok)
        q_words = set(q_fold.split())
        rows, idf = self._title_tokens(q_words)
        scored = []  # (idf mass of the title words the question uses, share of the title's mass, paper, words)
        for pid, title, words, toks in rows:
            if len(toks) >= 2 and len(shared := toks & q_words) >= 2:
                mass = sum(idf[t] for t in shared)
                scored.append((mass, mass / sum(idf[t] for t in toks), pid, shared))
                quoted = _window_in(words, q_fold) or _head_in(title, q_fold)
                # Quoted words name a paper only with one few titles use: "large language models into"
                # (a phrase of many titles) is a subject; "direct nash optimization" is a paper.
                if quoted and max((idf.get(w, 0.0) for w in quoted.split()), default=0.0) > DISTINCT_IDF:
                    titles.setdefault(pid, title)
                    add(pid, 0.9, " ".join(words))
        scored.sort(key=lambda r: -r[0])
        # Most of ONE title, with at least three of its words or one few titles use, well ahead of the next title
        # ("composition and control with distilled energy diffusion"); "diffusion models" alone names no paper.
        if scored:
            mass, share, pid, shared = scored[0]
            runner_up = scored[1][0] if len(scored) > 1 else 0.0
            if share >= 0.5 and (len(shared) >= 3 or max(idf[t] for t in shared) > DISTINCT_IDF):
                add(pid, 0.8 if runner_up <= 0.7 * mass else 0.5, " ".join(sorted(shared)))
        return sorted(found.values(), key=lambda e: -e.confidence)

    def names_in(self, text: str) -> list[Entity]:
        """Authors and affiliations: a full name is sure; a surname alone only where it reads as a person;
        a name followed by another capitalised word is part of something else ("Stanford Alpaca")."""
        out = []
        q = f" {fold(text)} "
        for m in self.catalog.names_in(text):
            words = fold(m.name).split()
            said = m.name if m.exact else words[-1]
            if _part_of_longer_name(text, said):
                conf = 0.3
            elif m.exact:
                conf = 1.0
            else:
                conf = 0.8 if _reads_as_person(text, words[-1]) else 0.4
            out.append(_entity(m, conf, said))
        known = {e.name for e in out if e.confidence >= CONFIDENT}
        # "Jacob Springer" for "Jacob Mitchell Springer"; "Apple" for the affiliation "apple-ml".
        for m in self.catalog.short_names_in(text):
            short = m.said
            if m.kind == "affiliation" and not _reads_as_org(text, short):
                continue
            if m.name in known or f" {short} " not in q or _part_of_longer_name(text, short):
                continue
            out.append(_entity(m, 0.9, short))
        return out

    def entities(self, text: str) -> list[Entity]:
        out = self.papers_in(text) + self.names_in(text)
        for venue in self.catalog.venues_in(text) + _venue_acronyms(text, self.catalog):
            if not any(e.kind == "venue" and e.name.lower() == venue.name.lower() for e in out):
                out.append(_entity(venue, 1.0, venue.name))
        venues = " ".join(e.name for e in out if e.kind == "venue")
        periods = self.catalog.periods_in(text)
        if not periods and not topic_of(text, []):  # nothing but a period: "2020", "October 2025?"
            periods = self.catalog.periods_in(f"in {text.strip(' ?!.')}")
        for period in periods:
            if period.label not in venues:  # "AISTATS 2025" names a venue, not a year
                out.append(Entity(kind="period", name=period.label, value=period.prefix, confidence=1.0,
                                  paper_ids=period.paper_ids, paper_count=period.count, text=period.label))  # fmt: skip
        for code, ids in self.catalog.categories_in(text):
            out.append(Entity(kind="category", name=code, value=code, confidence=1.0, paper_ids=ids, text=code))
        return out

    # -- the analysis ---------------------------------------------------------------------------------
    def analyse(self, question: str, history: list[Message] | None = None, *, rewrite: bool = True) -> QueryAnalysis:
        history = history or []
        # A ruled-out subject is neither searched for nor read as a name: "papers other than TarFlow".
        asked, exclude = without_negations(self.normalise(question))
        followup = bool(history) and is_followup(asked)
        at = _ordinal(asked) if followup else None
        # "the second one" refers to the latest list of two or more, even when a later turn named one paper.
        # "and for pizza?" continues the previous question: the papers it showed are not asked about.
        refers = bool(REFERS_TO_PAPERS.search(asked))
        pinned = (
            _pinned(history, self.catalog, need=1 if at is None else max(2, at + 1))
            if followup and (refers or at is not None)
            else []
        )
        chosen = pinned[at] if at is not None and len(pinned) > 1 and len(pinned) > at else None
        if not chosen and not refers:
            pinned = []
        if chosen:  # the paper pointed at leads: the metadata channel ranks pinned papers in order
            pinned = [chosen] + [p for p in pinned if p != chosen]
        base = without_negations(question)[0] if exclude else question
        standalone = base
        if followup and rewrite:
            standalone = condense(
                standalone, history, [chosen] if chosen else pinned, self.catalog, self.llm,
                max_chars=self.max_question_chars, history_tokens=self.history_tokens,
            )  # fmt: skip
        entities = self.entities(asked)
        # A title no paper has ('When was "Adam: A Method for Stochastic Optimization" published?'): the papers its
        # words name ("Adam", used by one abstract) are not the paper asked about.
        titled = self._unknown_title(cited_title(asked, bool(facts_asked(asked))), entities)
        unknown_title = titled or self._unknown_name(cited_name(asked), entities)
        if unknown_title:
            inside = fold(unknown_title)
            entities = [e for e in entities if not (e.kind == "paper" and e.text and fold(e.text) in inside)]
        if followup and standalone != question:  # an LLM's rewrite may name the paper
            entities += [e for e in self.entities(standalone) if e.kind == "paper" and e.value not in
                         {x.value for x in entities}]  # fmt: skip
        entities += self._under_discussion(pinned, chosen, entities)
        entities.sort(key=lambda e: -e.confidence)
        named = [e.text for e in entities if e.text and e.kind != "paper"]
        order, count = order_asked(asked), bool(COUNTS.search(asked))
        subject = ORDER_WORDS.sub(" ", asked) if order else asked
        subject = COUNTS.sub(" ", subject) if count else subject
        # A follow-up's subject is read from its standalone form ("how do the two differ? (A ; B)").
        about = f"{subject} {standalone[len(base) :]}" if followup else subject
        analysis = QueryAnalysis(
            question=question, standalone=standalone, entities=entities, topic=topic_of(about, named),
            followup=followup, pinned=pinned, many=bool(MANY.search(asked)), exclude=exclude,
        )  # fmt: skip
        route, facts = route_for(asked, analysis)
        if followup and route.intent != "paper_fact" and ELLIPSIS.search(asked):
            route, facts = self._carry_over(history, analysis, route) or (route, facts)
        analysis.intent, analysis.facts, analysis.rule = route.intent, facts, _describe(route)
        if route.intent == "paper_fact":  # the title's words are the paper, not a subject
            analysis.topic = topic_of(asked, [e.text or e.name for e in analysis.entities])
        elif route.intent.startswith("list_"):  # a listing's subject is what is asked now, not the titles before
            analysis.topic = topic_of(subject, [e.text for e in analysis.entities if e.text and e.kind != "paper"])
        if route.intent == "topical" or route.intent.startswith("list_"):
            analysis.order, analysis.count = order, count
        if route.intent == "topical":
            analysis.detail = None if count else detail_asked(asked)
            analysis.unknown_title = unknown_title
        if route.intent == "topical" or (route.intent.startswith("list_") and analysis.topic):  # what dense ranks by
            read = analysis.topic if route.intent != "topical" else asked
            analysis.lay_terms, analysis.lay_words = lay_reading(read)
        return analysis

    def _unknown_title(self, title: str | None, entities: list[Entity]) -> str | None:
        """The cited title when no paper of the corpus has it: no paper found whose title is close to it, and no
        title of the catalog inside it."""
        if not title:
            return None
        wanted = fold(title)
        near = [e for e in entities if e.kind == "paper"]
        if sum(1 for e in near if e.confidence >= CONFIDENT and e.text and fold(e.text) in wanted) >= 2:
            return None  # papers listed, not one title: "Who wrote TarFlow, Step-by-Step Diffusion and LiDAR?"
        if any(fuzz.partial_ratio(wanted, fold(e.name)) >= TITLE_MATCH for e in near):
            return None
        if papers_named(title, self.catalog):
            return None
        return title

    def _unknown_name(self, name: str | None, entities: list[Entity]) -> str | None:
        """The cited name when no paper of the corpus is the one it names: "the GPT-3 paper" (a name several abstracts
        mention is no paper's own), not "the RASP-Generalization Conjecture paper" (one paper's)."""
        if not name:
            return None
        wanted = fold(name)
        own = [e for e in entities if e.kind == "paper" and e.confidence >= CONFIDENT and e.text]
        if any(fold(e.text) in wanted or wanted in fold(e.name) for e in own):
            return None
        n, ids = self.catalog.token_papers(name.lower())
        if n == 1 and any(e.value == ids[0] for e in own):  # one of the paper's names, another one shown ("NextQA-MC")
            return None
        return self._unknown_title(name, entities)

    def _under_discussion(self, pinned: list[str], chosen: str | None, entities: list[Entity]) -> list[Entity]:
        """The papers of the chat a follow-up refers to: the one an ordinal `chosen` ('the second one'), else
        the first ('it')."""
        if not pinned or any(e.kind == "paper" and e.confidence >= CONFIDENT for e in entities):
            return []
        out = []
        for i, pid in enumerate(pinned):
            conf = (0.9 if pid == chosen else 0.5) if chosen else (0.85 if i == 0 else 0.8)
            p = self.catalog.by_id[pid]
            out.append(Entity(kind="paper", name=p.title, value=pid, confidence=conf, paper_ids=[pid], text=""))
        return out

    def _carry_over(
        self, history: list[Message], analysis: QueryAnalysis, current: Route
    ) -> tuple[Route, list[Fact]] | None:
        """An ellipsis ('and the second one?', 'what about Stanford?', 'which of those ...') asks what the
        previous question asked, of what it names now (or, naming nothing new, of what it named then)."""
        at = next((i for i in range(len(history) - 1, -1, -1) if history[i].role == "user"), None)
        if at is None:
            return None
        before = self.analyse(history[at].content, history[:at], rewrite=False)
        if before.intent == "topical" and before.facts and analysis.of_kind("paper"):
            # A fact asked of a paper the corpus lacks or the question only described ("Who wrote Attention Is All
            # You Need?"), then a paper named: "what about TarFlow?" asks the same fact of it.
            return next(r for r in ROUTES if r.intent == "paper_fact" and r.fact == before.facts[0]), list(before.facts)
        if before.intent in ("topical", "chitchat", "comparison") or (
            current.intent != "topical" and not before.intent.startswith("list_")
        ):
            return None
        route = next(r for r in ROUTES if r.intent == before.intent and (r.fact is None or r.fact == before.fact))
        if route.needs in ("author", "affiliation", "venue", "period") and not analysis.of_kind(route.needs):
            analysis.entities += before.of_kind(route.needs)  # type: ignore[arg-type]
        if route.needs and route.needs != "named" and not analysis.of_kind(route.needs):  # type: ignore[arg-type]
            return None
        return route, list(before.facts)


def route_for(question: str, analysis: QueryAnalysis) -> tuple[Route, list[Fact]]:
    """The first row of ROUTES that applies, and every fact asked when it is a paper fact."""
    for route in ROUTES:
        if route.needs == "named":
            if len(_named_things(question, analysis)) < 2:
                continue
        elif route.needs and not analysis.of_kind(route.needs):
            continue
        if route.intent == "paper_fact" and PLURAL.search(question):
            continue  # "which papers were accepted at X" asks for a list, not one paper's fact
        asked = _asks(route.cue, question) if route.intent == "paper_fact" else route.cue.search(question)
        if not (asked or (route.bare and not analysis.topic)):
            continue
        if route.topic == "none" and analysis.topic:
            continue
        # "Who wrote X and when was it published?": every fact asked, in table order.
        return route, facts_asked(question) if route.intent == "paper_fact" else []
    # A fact asked of a paper the question only describes: topical, with the facts kept for the best match.
    return TOPICAL, facts_asked(question)


# Words after which "who ..." opens the question's own clause ("do you know who wrote ..."), not a relative
# clause about a noun ("protect the people who wrote them").
CLAUSE_START = re.compile(
    r"(?:^|[,;:.?!(]|\b(?:and|but|so|also|me|know|wonder|wondering|tell|say|ask|asking))\s*$", re.I
)
BY_WHOM = re.compile(r"\s+(?:whom|who)\b", re.I)
# "did the authors of X release", "according to its authors": they are the subject, what they did is asked
AUTHORS_AS_SUBJECT = re.compile(
    r"\b(?:did|do|does|have|has|had|can|could|would|will|should|according to)\s+(?:the\s+)?$", re.I
)


def _asks(cue: re.Pattern[str], question: str) -> bool:
    """Does the question itself ask what the cue names? Of a paper it only describes, "who wrote" asks only where
    it opens a clause, and "written by" only with "whom": "text written by chatbots" asks no author; nor "what did
    the authors of X release", where they do something else."""
    for m in cue.finditer(question):
        said = m.group(0).lower()
        if said.startswith("who") and not CLAUSE_START.search(question[: m.start()]):
            continue
        if said == "written by" and not BY_WHOM.match(question[m.end() :]):
            continue
        if "author" in said and not said.startswith("who") and AUTHORS_AS_SUBJECT.search(question[: m.start()]):
            continue
        return True
    return False


TOPICAL = Route("topical", None, None, re.compile(""))
PLURAL = _cue(r"\b(papers|works|studies|articles|publications|preprints)\b")
ELLIPSIS = _cue(
    r"^\s*(and|but|also|so|then|what about|how about|same)\b|\b(of|from|among) (those|these|them)\b"
    r"|\bthe (first|second|third|fourth|fifth|last|other)( one)?\b|^\s*\w+( \w+)?\s*\??\s*$"
)
CAPITALISED_PHRASE = re.compile(  # a named method: "Direct Nash Optimization", "DPO", "TarFlow"
    r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+\b|\b[A-Z]{2,}[A-Za-z0-9-]*\b|\b[A-Z][a-z]+[A-Z][A-Za-z0-9]*\b"
)
ARXIV_ID = re.compile(r"\b(\d{4}\.\d{4,5})(?:v\d+)?\b")


# A paper cited by its title: quoted after a paper word ('the paper "X"', 'titled "X"'), or, when one of a paper's
# facts is asked, any quoted phrase or Title-Case run of three capitalised words or more ("Who wrote Attention Is
# All You Need?"; small words may sit inside: "Deep Residual Learning for Image Recognition").
QUOTE = r"[\"“”]([^\"“”]{6,200})[\"“”]"
QUOTED_TITLE = re.compile(rf"\b(?:paper|article|preprint|titled|called|named|entitled)\s+{QUOTE}", re.I)
QUOTED = re.compile(QUOTE)
TITLE_RUN = re.compile(  # inner words may start with a digit ("An Image is Worth 16x16 Words")
    r"\b[A-Z][\w'-]*:?(?:[ \t]+(?:[A-Z0-9][\w'-]*:?|a|an|the|of|for|in|on|and|or|to|with|is|are|all|you|via|from|by"
    r"|at|as|not|can|be|we|your|our|its|vs\.?))*[ \t]+[A-Z][\w'-]*"
)
# A question's own opening that a run may start with: "Is the You Only Look Once ... paper on arXiv?", "What does
# Deep Residual Learning for Image Recognition propose?"
RUN_OPENING = re.compile(
    r"^(?:(?:what|when|who|which|where|is|are|was|were|does|do|did|can|could|has|have|will)\s+)+(?:(?:the|a|an)\s+)?",
    re.I,
)
# "What does Deep Residual Learning for Image Recognition propose?": the run is what the paper is asked about.
ASKED_OF = re.compile(r"^\s+(?:propose|show|find|introduce|present|claim|argue|conclude|report|say)s?\b", re.I)
# "the paper Language Models are Few-Shot Learners", "summarize ImageNet Classification with ...": a run a paper
# word or a summary request leads is a title, fact asked or not.
PAPER_WORD = r"(?i:paper|article|preprint|titled|called|entitled|summari[sz]e)"  # only these in any case
PAPER_RUN = re.compile(rf"\b{PAPER_WORD}\s+({TITLE_RUN.pattern})")
TITLE_MATCH = 90  # rapidfuzz partial ratio: a cited title this close to a paper's is that paper, mistyped
# "the GPT-3 paper", "the Llama 2 paper": a paper cited by the name it introduced (not in a question asking for
# papers: "which papers cite the BERT paper?" asks for others).
NAMED_PAPER = re.compile(r"\bthe\s+([A-Z][\w.+-]*(?:[ \t][A-Z0-9][\w.+-]*){0,2})\s+(?i:paper|article|preprint)\b")

# Before a capitalised run, words that make it people ("by Albert Gu and Tri Dao") or a subject ("the paper on Large
# Language Model calibration"), not a title.
# Nor are methods chosen between or used ("choose between Chain-of-Thought and Program-Aided Language Models").
NOT_A_TITLE_AFTER = re.compile(
    r"\b(?:by|with|from|and|researchers?|on|about|regarding|into|for|between|than|versus|vs\.?|like|such as|including"
    r"|using|uses?|combin(?:e|es|ing))\s*$",
    re.I,
)


def facts_asked(question: str) -> list[Fact]:
    """The paper facts (authors, id, date, venue) the question itself asks, in table order."""
    return [r.fact for r in ROUTES if r.intent == "paper_fact" and r.fact and _asks(r.cue, question)]


def cited_title(question: str, facts: bool) -> str | None:
    """The title the question cites a paper by, if any (whether the corpus has such a paper is decided later)."""
    if m := QUOTED_TITLE.search(question):
        return m.group(1).strip()
    if (m := PAPER_RUN.search(question)) and _title_like(m.group(1), words=4):
        return m.group(1)  # four words or more: "Summarize Stable Diffusion XL improvements" names a model
    for m in QUOTED.finditer(question):
        quoted = m.group(1).strip()
        if facts and len(quoted.split()) >= 2:
            return quoted  # 'When was "Adam: A Method for Stochastic Optimization" published?'
        if _title_like(quoted, words=4) and ASKED_OF.match(question[m.end() :]):
            return quoted  # 'What does "GloVe: Global Vectors for Word Representation" propose?'
    for m in TITLE_RUN.finditer(question):
        run = RUN_OPENING.sub("", m.group(0), count=1)
        opens_oddly = not run[:1].isupper() or run.split()[0].lower() in CUE_WORDS
        if opens_oddly or NOT_A_TITLE_AFTER.search(question[: m.start()]):  # people or a subject, not a title
            continue
        asked_of = _title_like(run, words=4) and bool(ASKED_OF.match(question[m.end() :]))
        if (facts and _title_like(run, words=1)) or asked_of:
            return run
    return None


def cited_name(question: str) -> str | None:
    """The name a question cites one paper by ("the GPT-3 paper"), unless it asks for papers."""
    if PLURAL.search(question) or not (m := NAMED_PAPER.search(question)):
        return None
    return m.group(1)


def _title_like(text: str, words: int) -> bool:
    """Three capitalised words or more (not the question's own cue words), and `words` words or more."""
    capitals = sum(1 for w in text.split() if w[0].isupper() and w.lower().rstrip(":") not in CUE_WORDS)
    return capitals >= 3 and len(text.split()) >= words


def _named_things(question: str, analysis: QueryAnalysis) -> set[str]:
    """Distinct named papers or methods: capitalised phrases, and confidently found papers not among them."""
    phrases = {m.lower() for m in CAPITALISED_PHRASE.findall(question)}
    papers = {e.value for e in analysis.of_kind("paper") if not any(e.text.lower() in p for p in phrases if e.text)}
    return phrases | papers


def _window_in(words: list[str], q_fold: str, min_words: int = 4, min_chars: int = 25) -> str:
    """The longest run of min_words or more consecutive title words (min_chars or more) the question quotes."""
    for size in range(len(words), min_words - 1, -1):
        for i in range(len(words) - size + 1):
            window = " ".join(words[i : i + size])
            if len(window) >= min_chars and f" {window} " in q_fold:
                return window
    return ""


def _head_in(title: str, q_fold: str) -> str:
    """The title's name before its colon ("Direct Nash Optimization: ...") when quoted, two words or more."""
    head, colon, _ = title.partition(":")
    words = fold(head) if colon else ""
    return words if len(words.split()) >= 2 and f" {words} " in q_fold else ""


def _part_of_longer_name(text: str, name: str) -> bool:
    """'Stanford Alpaca', 'Bradley-Terry': the name runs into another capitalised word."""
    m = re.search(rf"\b{re.escape(name)}\b", text, re.I) or re.search(re.escape(name.split()[0]), text, re.I)
    return bool(m and re.match(r"[-\s]+[A-Z][a-z]", text[m.end() :]) and m.group(0)[:1].isupper())


def is_followup(question: str) -> bool:
    """Does the question refer back to the conversation? (Only then is history used.)"""
    return bool(REFERS_TO_PAPERS.search(question) or CONTINUES.search(question))


def detail_asked(question: str) -> str | None:
    for pattern, template in DETAILS:
        if m := pattern.search(question):
            groups = [_noun_phrase(g) if g else "" for g in m.groups()]
            return " ".join(template.format(*groups).split())
    return None


def _noun_phrase(words: str) -> str:
    """The asked thing without the verb that follows it: 'GPUs were' -> 'GPUs'."""
    kept = []
    for w in words.split():
        if w.lower() in ASKING_WORDS or w.lower() in {"used", "needed", "required", "trained"}:
            break
        kept.append(w)
    return " ".join(kept) or words.split()[0]


def _pinned(history: list[Message], catalog: Catalog, need: int = 1) -> list[str]:
    """Papers named in the most recent turn that names at least `need` of them (else in the latest naming any)."""
    latest: list[str] = []
    for msg in reversed(history):
        named = [p for p in msg.papers if catalog.get(p) is not None] or catalog.papers_mentioned(msg.content)
        found = list(dict.fromkeys(named))[:MAX_PINNED]
        if len(found) >= need:
            return found
        latest = latest or found
    return latest


def _ordinal(asked: str) -> int | None:
    """The list position an ordinal asks for ('the second one' -> 1, 'the last' -> -1), if any."""
    m = ORDINAL.search(asked)
    return ORDINALS[m.group(1).lower()] if m else None


VENUE_ACRONYM = re.compile(
    r"\b(NeurIPS|NIPS|ICML|ICLR|AISTATS|CVPR|ICCV|ECCV|ACL|EMNLP|NAACL|AAAI|IJCAI|COLT|UAI|KDD|TMLR|JMLR|COLM|"
    r"Interspeech|ICASSP|SIGIR|WWW|CHI)(\s+'?\d{2,4})?\b"
    # written in any case only where the acronym is no English word ("aistats 2025", not "chi" or "www")
    r"|(?i:\b(neurips|icml|iclr|aistats|cvpr|iccv|eccv|emnlp|naacl|ijcai|tmlr|jmlr|interspeech|icassp)(\s+'?\d{2,4})?\b)"
)


def _venue_acronyms(text: str, catalog: Catalog) -> list[NameMatch]:
    """Known venue acronyms ('papers at ICML 2024'), with the papers whose arXiv comments mention them."""
    return [catalog.venue(m.group(0)) for m in VENUE_ACRONYM.finditer(text)]


def _entity(m: NameMatch, confidence: float, text: str) -> Entity:
    """An author, affiliation or venue the text names: its first papers' ids, every paper's catalog position."""
    return Entity(kind=m.kind, name=m.name, value=m.name, confidence=confidence,  # type: ignore[arg-type]
                  paper_ids=m.paper_ids, paper_count=len(m.ords), ords=m.ords.tolist(), text=text)  # fmt: skip


def _reads_as_org(text: str, word: str) -> bool:
    """'papers from Apple', "Apple's work", 'Apple papers': the word is used as an institution."""
    w = re.escape(word)
    return bool(re.search(rf"\b(from|at|by|of)\s+{w}\b|\b{w}('s|’s)?\s+(papers?|research|researchers|work)\b"
                          rf"|^\W*{w}\W*$", text, re.I))  # fmt: skip


def _reads_as_person(text: str, surname: str) -> bool:
    """'papers by Saremi', "Saremi's work", 'did Saremi write': the surname is used as a person."""
    s = re.escape(surname)
    return bool(
        re.search(rf"\b(by|did|has|have|does|author|authors|co-?author\w*|dr\.?|prof\.?)\s+{s}\b|\b{s}('s|’s)\b", text,
                  re.I)
    )  # fmt: skip


def _describe(route: Route) -> str:
    return route.intent + (f":{route.fact}" if route.fact else "") + (f" (needs {route.needs})" if route.needs else "")
