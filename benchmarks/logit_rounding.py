"""How far a model's dtype moves its best logits: the numbers behind the token check's tie rule.

The seeded model of llm_backends, in --dtype and cast to the wider dtype the token check uses
(`llm.agreement`), on --prompts token-id prompts: per prompt, the exact gap between the two best logits,
the most the narrow pass moved any of the agreement.CANDIDATES best, and whether the two best are a tie
by the check's rule (exact gap within twice that rounding).

CPU: python -m benchmarks.logit_rounding --model llama-3.2-1b --dtype bfloat16 --prompts 8
"""

from __future__ import annotations

from typing import List, Optional

from benchmarks.common import script_parser


def main(argv: Optional[List[str]] = None) -> None:
    import torch

    from pytest_aotperf.llm.agreement import CANDIDATES, widened
    from pytest_aotperf.llm.hf_model import build_model
    from pytest_aotperf.llm.metrics import prompt_token_ids
    from pytest_aotperf.llm.specs import resolve_model

    parser = script_parser(__doc__)
    parser.add_argument("--model", default="llama-3.2-1b", help="shipped spec or config folder (default %(default)s)")
    parser.add_argument("--dtype", default="bfloat16", help="default %(default)s")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--prompts", type=int, default=8, help="default %(default)s")
    parser.add_argument("--prompt-len", type=int, default=32, help="default %(default)s")
    args = parser.parse_args(argv)
    spec = resolve_model(args.model)
    model = build_model(spec, args.dtype, args.device)
    ids = torch.tensor(prompt_token_ids(spec.vocab_size, args.prompts, args.prompt_len, seed=0), device=args.device)
    with torch.no_grad():
        narrow = model(ids).logits[:, -1].double()
        exact = widened(model)(ids).logits[:, -1].double()
    print(f"{args.model}, {args.dtype} on {args.device}: the first token of {args.prompts} prompts")
    print("| prompt | best two (exact) | exact gap | rounding of the best | a tie |\n|---|---|---|---|---|")
    ties = 0
    for row in range(args.prompts):
        best = exact[row].topk(CANDIDATES)
        gap = float(best.values[0] - best.values[1])
        rounding = float((narrow[row][best.indices] - exact[row][best.indices]).abs().max())
        ties += gap <= 2 * rounding
        pair = f"{best.values[0]:.2f}, {best.values[1]:.2f}"
        print(f"| {row} | {pair} | {gap:.3g} | {rounding:.3g} | {'yes' if gap <= 2 * rounding else 'no'} |")
    print(f"{ties} of {args.prompts} prompts' best two are a tie")


if __name__ == "__main__":
    main()
