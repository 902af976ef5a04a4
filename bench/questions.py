"""The questions the latency and load benchmarks ask: real ones of the kinds users ask (topical, lay, author,
id lookup, off-corpus refusal). One list, so the figures of both measure the same work."""

QUESTIONS = [
    "which papers study length generalization, and what do they find?",
    "is there work on making big models cheaper to run on a phone?",
    "what did Omid Saremi co-author?",
    "what is the arXiv id of the paper on classifier-free guidance as a predictor-corrector?",
    "how can reinforcement learning improve reasoning in language models?",
    "which papers are about causal discovery in astrophysics?",
    "what's a good recipe for sourdough bread?",
    "methods for detecting hallucinations in large language models",
    "papers on diffusion models for image generation",
    "how do state space models compare with transformers?",
]
