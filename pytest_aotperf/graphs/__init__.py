"""CUDA graphs of a compiled module: captured per batch size (`capture`), replayed by batch size (`replay`), and the
example inputs resized to each batch size (`inputs`). The cudagraph backend and the LLM decode step use them."""
