"""A second, held-out table of query-understanding phrasings (issue 11): a table, no test functions.

Same format and label conventions as tests/understand_cases.py (read its docstring): `Case` rows of
(question, history, intent, fact, names, has_topic, followup). Written independently of the understanding code and
of the first table, with new wording and mostly other papers, authors, arXiv ids and periods, so that a score on
this table says how the understanding generalises beyond the phrasings it was tuned on.

Every name resolves to a catalog author, an affiliation string, an arXiv id, exactly one catalog title (a unique
fragment of it), a period with papers in the catalog, or a venue as written in the question.

Conventions specific to this table (where a reader might label otherwise):
- A month without a year in a follow-up ("and September?") takes the year of the history: "September 2025".
- Abbreviated or lower-case months are labelled with the full month name ("Nov 2020" -> "November 2020").
- A surname alone ("Bradley's diffusion papers") or a name without its diacritic ("adam golinski") names the author
  as the catalog spells it.
- Two authors asked together ("did X and Y write anything together") is list_by_author with both names.
- A catalog fact asked of a paper that is not in the corpus ("the original Transformer paper") is topical.
"""

from __future__ import annotations

from tests.understand_cases import Case, chat, chitchat, compare, fact, listing, topical

# ---------------------------------------------------------------------------------------------------------------
# Topical: subjects in lay and technical wording, off-corpus subjects, a period + topic.
TOPICAL: list[Case] = [
    topical("What do we know about diffusion models combining concepts they never saw together in training?"),
    topical("Is it possible to fine-tune a large language model without backpropagation?"),
    topical("explain like I'm five why chatbots make stuff up"),
    topical("Are there papers about jailbreaking voice assistants with harmless-sounding audio?"),
    topical("How does a mixture-of-experts model decide which expert handles a token?"),
    topical("What tricks let language models read really long documents?"),
    topical("Can a language model reason like a physicist?"),
    topical("Research on fine-tuning LLMs across many phones without sharing the data"),
    topical("How can artists stop image generators from imitating their painting style?"),
    topical("Does training on AI-generated data make models worse over time?"),
    topical("What is the theory behind why step-by-step reasoning helps transformers?"),
    topical("Which papers look at how well state space models can copy text?"),
    topical("how do computers turn a sentence into a picture"),
    topical("My model has 70B parameters and my GPU is small. How do I shrink it?"),
    topical("Can machine learning find where an epidemic started?"),
    topical("What's new in speculative decoding for image generation?"),
    topical("Do vision-language models trust the caption over what is in the image?"),
    topical("What are the theoretical limits of embedding-based retrieval?"),
    topical("How do I repot an orchid"),
    topical("What's the weather like in Lisbon in May?"),
    topical("How much sleep does an adult need?"),
    topical("Who painted the Mona Lisa?"),
    topical("What did the 2024 papers find about calibration?", ["2024"]),
    topical("reinforcement learning for LLM reasoning in 2025", ["2025"]),
    topical("Any February 2025 work on composing diffusion models?", ["February 2025"]),
    topical("Which 2023 papers deal with transformers and generalization?", ["2023"]),
]

# ---------------------------------------------------------------------------------------------------------------
# One catalog fact of one paper identified by quoted title, arXiv id or a unique model/method name; all four facts.
PAPER_FACT: list[Case] = [
    fact(
        "Who are the people behind 'Mechanisms of Projective Composition of Diffusion Models'?",
        "authors",
        "Projective Composition",
    ),
    fact("Which authors wrote arXiv:2502.04549?", "authors", "2502.04549"),
    fact("Who wrote QuIP?", "authors", "QuIP"),
    fact("authors of the FANToM benchmark paper", "authors", "FANToM"),
    fact('Who authored the paper titled "Towards Deeper Graph Neural Networks"?', "authors", "Towards Deeper Graph"),
    fact(
        "What's the arXiv number of 'Vanishing Gradients in Reinforcement Finetuning of Language Models'?",
        "arxiv_id",
        "Vanishing Gradients",
    ),
    fact(
        "Can you give me the arxiv identifier for Classifier-Free Guidance is a Predictor-Corrector",
        "arxiv_id",
        "Classifier-Free Guidance is a Predictor-Corrector",
    ),
    fact("Does DiffuSeq have an arXiv ID?", "arxiv_id", "DiffuSeq"),
    fact("What's the arXiv id of the Cinematic-L1 paper?", "arxiv_id", "Cinematic-L1"),
    fact("On what date was arXiv 2406.06487 released?", "date", "2406.06487"),
    fact("When was 'Annotations Mitigate Post-Training Mode Collapse' released?", "date", "Annotations Mitigate"),
    fact("In which month did Trained on Tokens, Calibrated on Concepts appear?", "date", "Trained on Tokens"),
    fact("When was Flexora published?", "date", "Flexora"),
    fact(
        "Which venue accepted 'Mechanisms of Projective Composition of Diffusion Models'?",
        "venue",
        "Projective Composition",
    ),
    fact("Did 'Spectral State Space Models' get into a conference, and which one?", "venue", "Spectral State Space"),
    fact("What venue is arXiv 2410.02140 from?", "venue", "2410.02140"),
    fact("Was SliM-LLM presented at a conference?", "venue", "SliM-LLM"),
]

# ---------------------------------------------------------------------------------------------------------------
# Listings by author, affiliation, venue, period; name + topic and name + period conjunctions.
LISTINGS: list[Case] = [
    listing("Everything Noam Razin has in here", "list_by_author", ["Noam Razin"]),
    listing("Which papers have David Berthelot on the author list?", "list_by_author", ["David Berthelot"]),
    listing("Do you have work from Eran Malach?", "list_by_author", ["Eran Malach"]),
    listing("Show the publications of Siddartha Devic", "list_by_author", ["Siddartha Devic"]),
    listing("What has Madhu Advani published?", "list_by_author", ["Madhu Advani"]),
    listing("Which of Bradley's papers deal with diffusion?", "list_by_author", ["Arwen Bradley"], has_topic=True),
    listing(
        "Has Arwen Bradley done anything on uncertainty in reasoning models?",
        "list_by_author",
        ["Arwen Bradley"],
        has_topic=True,
    ),
    listing("Joseph Triscari video stabilization", "list_by_author", ["Joseph Triscari"], has_topic=True),
    listing(
        "Did Omid Saremi and Hattie Zhou write anything together?", "list_by_author", ["Omid Saremi", "Hattie Zhou"]
    ),
    listing("Which papers by Preetum Nakkiran came out in 2025?", "list_by_author", ["Preetum Nakkiran", "2025"]),
    listing("What has Princeton contributed to this collection?", "list_by_affiliation", ["princeton"]),
    listing(
        "Papers with a Stanford affiliation about composing diffusion models",
        "list_by_affiliation",
        ["stanford"],
        has_topic=True,
    ),
    listing("Does Apple have papers on reinforcement learning?", "list_by_affiliation", ["apple-ml"], has_topic=True),
    listing("list everything affiliated with apple ml", "list_by_affiliation", ["apple-ml"]),
    listing("Which papers made it into NeurIPS 2023?", "list_by_venue", ["NeurIPS 2023"]),
    listing("Any ICLR papers in the collection?", "list_by_venue", ["ICLR"]),
    listing("What appeared in AISTATS 2025", "list_by_venue", ["AISTATS 2025"]),
    listing("Which papers were published in TMLR?", "list_by_venue", ["TMLR"]),
    listing("What was released in September 2025?", "list_by_period", ["September 2025"]),
    listing("Papers from 2023, please", "list_by_period", ["2023"]),
    listing("What's dated August 2024?", "list_by_period", ["August 2024"]),
    listing("Show me what came out in Nov 2020", "list_by_period", ["November 2020"]),
    listing("anything from december 2024", "list_by_period", ["December 2024"]),
]

# ---------------------------------------------------------------------------------------------------------------
# Comparisons of named papers or methods (and of unnamed methods).
COMPARISON: list[Case] = [
    compare("What separates QuIP from SliM-LLM?", "QuIP", "SliM-LLM"),
    compare(
        "Contrast 'The Illusion of State in State-Space Models' with 'Repeat After Me: Transformers are Better than"
        " State Space Models at Copying'",
        "The Illusion of State",
        "Repeat After Me",
    ),
    compare("Which is more memory efficient, AdaZeta or Chain of LoRA?", "AdaZeta", "Chain of LoRA"),
    compare(
        "Blackout Diffusion vs Soft Mixture Denoising: how do they model the data?",
        "Blackout Diffusion",
        "Soft Mixture Denoising",
    ),
    compare("Pros and cons of debating versus voting for multi-agent LLMs"),
    compare("GateLoop compared to Zoology: which handles recall better?", "GateLoop", "Zoology"),
    compare("Compare arXiv 2406.08929 with 2408.09000", "2406.08929", "2408.09000"),
]

# ---------------------------------------------------------------------------------------------------------------
# Chit-chat.
CHITCHAT: list[Case] = [
    chitchat("Hey, how's it going?"),
    chitchat("cheers, that's exactly what I needed"),
    chitchat("are you ChatGPT?"),
    chitchat("what kind of questions can I ask you"),
    chitchat("good night!"),
    chitchat("Are you a human or a bot?"),
    chitchat("ok thanks bye"),
]

# ---------------------------------------------------------------------------------------------------------------
# Adversarial: a trigger word without its intent ("arXiv", "when", "who", "write", "published", "accepted", "id",
# "venue", "date", "author", "compare", "by", a year, an affiliation as a common word, chit-chat openers, "first"),
# and catalog facts asked of a paper that is not identified (several match, or not in the corpus).
ADVERSARIAL: list[Case] = [
    topical("arxiv preprints on speculative decoding"),
    topical("Is there any paper that trains on arXiv abstracts?"),
    topical("When do mixture-of-experts models need shared experts?"),
    topical("when does RL fine-tuning help planning and when does it hurt"),
    topical("Who should be held responsible when an AI system gives harmful advice?"),
    topical("Who wins when language models debate each other?"),
    topical("Can LLMs write their own code to improve themselves?"),
    topical("How well do language models write proofs in Lean?"),
    topical("What did people publish about hallucinations in reasoning models?"),
    topical("Is there a recently published survey on state space models?"),
    topical("How does speculative decoding decide which draft tokens get accepted?"),
    topical("How does user-level differential privacy protect user ids in language model training?"),
    topical("Does the choice of publication venue bias peer review of ML papers?"),
    topical("How do LLMs handle dates and times when reasoning about events?"),
    topical("Do time-series foundation models use date features well?"),
    topical("Can an LLM be a co-author on a scientific paper?"),
    topical("What metrics do people use to compare generative models on fidelity and diversity?"),
    topical("Is there a paper comparing vocabulary expansion methods for language models?"),
    topical("any work by the interpretability community on reading transformers in embedding space"),
    topical("Which papers test models on the Stanford Question Answering Dataset?"),
    topical("How does CFG behave with the DDPM sampler of Ho et al., 2020?"),
    topical("Which papers mention the 2022 ChatGPT release as a turning point?"),
    topical("What was the first diffusion model for discrete state spaces?"),
    topical("hi-resolution masked generative transformers: which design choices matter?"),
    topical("Thanks to what mechanism does in-context learning emerge in transformers?"),
    topical("What can you do with tool use in small language models?"),
    topical("Who wrote the paper on state space models?"),
    topical("What's the arXiv id of the MoE paper?"),
    topical("Where was the speculative decoding paper accepted?"),
    topical("When was the DPO paper released?"),
    topical("What's the arXiv id of the original Transformer paper?"),
]

# ---------------------------------------------------------------------------------------------------------------
# Follow-ups: referring back (followup True) and self-contained questions after an unrelated history (False).
QUIP = chat(
    "How low can LLM weight quantization go?",
    "'QuIP: 2-Bit Quantization of Large Language Models With Guarantees' quantizes weights to two bits with"
    " incoherence processing and gives a theoretical analysis of the rounding.",
)
COMPOSITION = chat(
    "How can diffusion models combine several concepts?",
    "Two papers: 1. 'Mechanisms of Projective Composition of Diffusion Models' (arXiv 2502.04549) defines projective"
    " composition and when linear score combination achieves it. 2. 'Local Mechanisms of Compositional"
    " Generalization in Conditional Diffusion' relates compositional generalization to local conditional scores.",
)
NAKKIRAN = chat(
    "What has Preetum Nakkiran written?",
    "Four papers: 'Classifier-Free Guidance is a Predictor-Corrector', 'Trained on Tokens, Calibrated on Concepts:"
    " The Emergence of Semantic Calibration in LLMs', 'Mechanisms of Projective Composition of Diffusion Models'"
    " and 'Step-by-Step Diffusion: An Elementary Tutorial'.",
)
OCTOBER = chat(
    "What was published in October 2025?",
    "Two papers: 'To Infinity and Beyond: Tool-Use Unlocks Length Generalization in State Space Models' and 'Trace"
    " Length is a Simple Uncertainty Signal in Reasoning Models'.",
)
STANFORD = chat(
    "Which papers are from Stanford?",
    "Three: 'Classifier-Free Guidance is a Predictor-Corrector', 'Composition and Control with Distilled Energy"
    " Diffusion Models and Sequential Monte Carlo' and 'Mechanisms of Projective Composition of Diffusion Models'.",
)
DEBATE = chat(
    "Do multi-agent LLM debates lead to better answers?",
    "'Debate or Vote: Which Yields Better Decisions in Multi-Agent Large Language Models?' finds that most of the"
    " gain comes from majority voting rather than from the debate itself.",
)

FOLLOWUPS: list[Case] = [
    Case("and who are the authors?", QUIP, "paper_fact", "authors", ["QuIP"], False, True),
    Case("is it on arxiv", QUIP, "paper_fact", "arxiv_id", ["QuIP"], False, True),
    Case(
        "when was the latter released?",
        COMPOSITION,
        "paper_fact",
        "date",
        ["Local Mechanisms of Compositional"],
        False,
        True,
    ),
    Case(
        "Which conference took the first paper?",
        COMPOSITION,
        "paper_fact",
        "venue",
        ["Projective Composition"],
        False,
        True,
    ),
    Case(
        "compare them",
        COMPOSITION,
        "comparison",
        None,
        ["Projective Composition", "Local Mechanisms of Compositional"],
        True,
        True,
    ),
    Case(
        "and the first one's arXiv id?", COMPOSITION, "paper_fact", "arxiv_id", ["Projective Composition"], False, True
    ),
    Case("and what about David Berthelot?", NAKKIRAN, "list_by_author", None, ["David Berthelot"], False, True),
    Case("only the ones from 2025", NAKKIRAN, "list_by_author", None, ["Preetum Nakkiran", "2025"], False, True),
    Case("which of them are about calibration", NAKKIRAN, "list_by_author", None, ["Preetum Nakkiran"], True, True),
    Case(
        "who co-wrote the third one with him?",
        NAKKIRAN,
        "paper_fact",
        "authors",
        ["Projective Composition"],
        False,
        True,
    ),
    Case("and September?", OCTOBER, "list_by_period", None, ["September 2025"], False, True),
    Case("what does the second one find?", OCTOBER, "topical", None, ["Trace Length"], True, True),
    Case("And from Apple?", STANFORD, "list_by_affiliation", None, ["apple-ml"], False, True),
    Case("Any of those on guidance?", STANFORD, "list_by_affiliation", None, ["stanford"], True, True),
    Case("How many agents did they use?", DEBATE, "topical", None, ["Debate or Vote"], True, True),
    # Self-contained questions after an unrelated history: understood on their own.
    Case("hello again", DEBATE, "chitchat", None, [], False, False),
    Case(
        "Who wrote 'Towards Deeper Graph Neural Networks'?",
        QUIP,
        "paper_fact",
        "authors",
        ["Towards Deeper Graph"],
        False,
        False,
    ),
    Case("What papers did Eran Malach write?", DEBATE, "list_by_author", None, ["Eran Malach"], False, False),
    Case("how do vision transformers handle occlusion", COMPOSITION, "topical", None, [], True, False),
    Case("Which papers are from 2023?", STANFORD, "list_by_period", None, ["2023"], False, False),
    Case("When was arXiv 2407.03475 posted?", NAKKIRAN, "paper_fact", "date", ["2407.03475"], False, False),
    Case("What is the best way to cook rice?", OCTOBER, "topical", None, [], True, False),
    Case(
        "How does FutureFill differ from GateLoop?", QUIP, "comparison", None, ["FutureFill", "GateLoop"], True, False
    ),
    Case("Apple papers about diffusion", DEBATE, "list_by_affiliation", None, ["apple-ml"], True, False),
]

# ---------------------------------------------------------------------------------------------------------------
# Surface forms: other cases, typos, missing diacritics, no question mark, bare names, very short questions.
FORMS: list[Case] = [
    listing("CHARLOTTE PEALE", "list_by_author", ["Charlotte Peale"]),
    listing("james thornton papers", "list_by_author", ["James Thornton"]),
    listing("wat did lukas aichberger write", "list_by_author", ["Lukas Aichberger"]),
    listing("adam golinski", "list_by_author", ["Adam Goliński"]),
    listing("Ruixiang Zhang?", "list_by_author", ["Ruixiang Zhang"]),
    listing("apple ml", "list_by_affiliation", ["apple-ml"]),
    listing("papers from princton", "list_by_affiliation", ["princeton"]),
    fact("whos the author of mixture of latent experts", "authors", "Mixture of Latent Experts"),
    fact("ARXIV ID OF THE ILLUSION OF STATE IN STATE-SPACE MODELS", "arxiv_id", "The Illusion of State"),
    fact("wen did 2502.04549 come out", "date", "2502.04549"),
    fact("venue for Ambient Diffusion Omni", "venue", "Ambient Diffusion Omni"),
    listing("sept 2025", "list_by_period", ["September 2025"]),
    listing("2025 papres", "list_by_period", ["2025"]),
    topical("state space modles and length generalisation"),
    topical("MoE"),
    topical("rlhf reward hacking??"),
    chitchat("ty"),
    chitchat("hiya"),
]

HELDOUT_CASES: list[Case] = [
    *TOPICAL,
    *PAPER_FACT,
    *LISTINGS,
    *COMPARISON,
    *CHITCHAT,
    *ADVERSARIAL,
    *FOLLOWUPS,
    *FORMS,
]
