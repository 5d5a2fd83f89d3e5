"""LLMs on eager, inductor and cudagraph: the seeded `transformers` model with a static KV cache, its prefill and
decode steps built per generation shape as each backend runs them, and greedy generation in a plain loop."""
