"""Reference bundles for the fixture snapshots (fixtures/reference/), through scripts/dump_reference.py.

Besides writing the bundles it checks them: the loop bundles are replayed here with an independent
implementation of the DDPM step described in docs/VERIFY.md (only the UNet is diffusers'), which must
reproduce every step<i>.prev_sample, so the documentation is known to be sufficient for a replayer.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import torch

from .common import offline_env, write_safetensors

# >= 10 prompts: empty, long past 77 tokens, unicode, digits, quotes, mixed case, leading/trailing spaces;
# the exactly-76 / exactly-77 token prompts are built from the tokenizer (see boundary_prompts).
PROMPTS = [
    "",
    "a photo of a red fox sitting in the snow at sunrise",
    "  Leading and trailing spaces  ",
    "MiXeD CaSe Prompt WITH Capitals",
    "digits 0123456789, 3.14159 and 1,000,000 apples",
    "a sign that says \"hello world\" and 'single quotes'",
    "unicode: café, über, naïve, 東京, ☃ and 😀",
    "multiple   inner    spaces\tand\ttabs\nand a newline",
    "punctuation!?;:()[]{}<>-_/\\|@#$%^&*+=~`",
    "ﬁne ligatures and full-width ＡＢＣ１２３",  # NFKC folds these
    "a",
    "a very long prompt about " + "a castle on a hill with a dragon and a knight, " * 12,
]

# Strings where T5Tokenizer's added-token handling may differ from plain sentencepiece (a separate bundle,
# so the main one stays within what a sentencepiece-based tokenizer must match).
EDGE_PROMPTS = [
    "a </s> inside",
    "<pad> and <unk> literals",
    "sentinel <extra_id_0> and <extra_id_99>",
    "   ",
    "\u00a0non-breaking\u00a0spaces\u2003em space",
    "zero\u200bwidth joiner",
]

LOOP_PROMPTS = ["a photo of a red fox sitting in the snow", "a watercolor of a lighthouse"]
UNET_PROMPTS = ["a photo of a red fox sitting in the snow"]
LOOP_II_TIMESTEPS = [999, 800, 799, 400, 0]  # explicit list; 800 -> 799 as in IF's fast27
REPLAY_TOLERANCE = 1e-5  # relative L2 per step between our replay and diffusers (fp32 summation order)


def boundary_prompts(tokenizer) -> list[str]:
    """Prompts of exactly 76 pieces (76 + </s> = 77, no padding) and 77 pieces (one piece truncated)."""
    words = "the quick brown fox jumps over a lazy dog in the snowy forest at dawn".split()
    out = []
    for target in (76, 77):
        text = ""
        i = 0
        while True:
            candidate = (text + " " + words[i % len(words)]).strip()
            n = len(tokenizer(candidate, add_special_tokens=False).input_ids)
            if n > target:
                # pad with single-piece letters until the count is exact
                while len(tokenizer(text, add_special_tokens=False).input_ids) < target:
                    text += " a"
                break
            text = candidate
            i += 1
        if len(tokenizer(text, add_special_tokens=False).input_ids) != target:
            raise RuntimeError(f"could not build a {target}-piece prompt")
        out.append(text)
    return out


def run_dump(dump_reference, argv: list[str]) -> tuple[dict, dict]:
    args = dump_reference.parse_args(argv)
    torch.manual_seed(args.seed)
    tensors, meta = dump_reference.build_bundle(args)
    return tensors, meta


# ---- independent replay of the loops (the algorithm docs/VERIFY.md describes) ----

def cosine_alphas_cumprod(num_train_timesteps: int = 1000) -> torch.Tensor:
    """squaredcos_cap_v2: betas in float64 Python math, stored float32; cumulative product accumulated
    in double and rounded to float32 per element (what torch.cumprod does on CPU for float32)."""
    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = np.array([min(1 - alpha_bar((i + 1) / num_train_timesteps) / alpha_bar(i / num_train_timesteps), 0.999)
                      for i in range(num_train_timesteps)], dtype=np.float32)
    alphas = (np.float32(1) - betas).astype(np.float32)
    return torch.from_numpy(np.cumprod(alphas.astype(np.float64)).astype(np.float32))


def ddpm_step(ac, t, prev_t, model_output, x, noise, sample_max_value):
    eps, v = model_output[:, :3], model_output[:, 3:]
    a_t = ac[t]
    a_prev = ac[prev_t] if prev_t >= 0 else torch.tensor(1.0)
    b_t, b_prev = 1 - a_t, 1 - a_prev
    cur_a = a_t / a_prev
    cur_b = 1 - cur_a
    x0 = (x - b_t ** 0.5 * eps) / a_t ** 0.5
    flat = x0.reshape(x0.shape[0], -1)
    s = torch.quantile(flat.abs(), 0.95, dim=1).clamp(min=1, max=sample_max_value).unsqueeze(1)
    x0 = (torch.clamp(flat, -s, s) / s).reshape(x0.shape)
    mean = (a_prev ** 0.5 * cur_b / b_t) * x0 + (cur_a ** 0.5 * b_prev / b_t) * x
    if t == 0:
        return mean
    min_log = torch.log(torch.clamp(b_prev / b_t * cur_b, min=1e-20))
    max_log = torch.log(cur_b)
    frac = (v + 1) / 2
    log_var = frac * max_log + (1 - frac) * min_log
    return mean + torch.exp(0.5 * log_var) * noise


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp(min=1e-30))


@torch.no_grad()
def replay(bundle: dict, unet, stage: str, sample_max_value: float, guidance: float, timesteps: list[int]):
    ac = cosine_alphas_cumprod()
    if not torch.equal(ac, bundle["check.alphas_cumprod"]):
        raise RuntimeError("alphas_cumprod recomputation differs from diffusers'")
    x = bundle["in.initial_noise"]
    ehs = torch.cat([bundle["in.negative_prompt_embeds"], bundle["in.prompt_embeds"]])
    class_labels = None
    cond = None
    if stage == "II":
        import torch.nn.functional as F

        size = unet.config.sample_size
        up = F.interpolate(bundle["in.low_res"], (size, size), mode="bilinear", align_corners=True)
        level = bundle["in.noise_level"]
        cond = ac[level].sqrt().view(-1, 1, 1, 1) * up + (1 - ac[level]).sqrt().view(-1, 1, 1, 1) * bundle["in.noise"]
        class_labels = torch.cat([level, level])
    worst = 0.0
    for i, t in enumerate(timesteps):
        model_in = x if cond is None else torch.cat([x, cond], dim=1)
        out = unet(torch.cat([model_in, model_in]), torch.tensor(t), encoder_hidden_states=ehs,
                   class_labels=class_labels, return_dict=False)[0]
        uncond, text = out.chunk(2)
        guided = torch.cat([uncond[:, :3] + guidance * (text[:, :3] - uncond[:, :3]), text[:, 3:]], dim=1)
        prev_t = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        noise = bundle.get(f"step{i}.variance_noise")
        x = ddpm_step(ac, t, prev_t, guided, x, noise, sample_max_value)
        worst = max(worst, rel_l2(x, bundle[f"step{i}.prev_sample"]))
    worst = max(worst, rel_l2(x, bundle["out.image"]))
    if worst > REPLAY_TOLERANCE:
        raise RuntimeError(f"loop-{stage}: independent replay differs from diffusers (rel L2 {worst:.3g})")
    return worst


def check_generator_use(bundle: dict, seed: int, stage: str) -> None:
    """The variance noise must be the pipeline generator's draws right after the initial noise (and, for
    stage II, the image noise): catches a recorder that made the scheduler fall back to the global RNG."""
    gen = torch.Generator().manual_seed(seed)
    expected = [torch.randn(bundle["in.initial_noise"].shape, generator=gen)]
    if stage == "II":
        expected.append(torch.randn(bundle["in.noise"].shape, generator=gen))
    names = sorted((k for k in bundle if k.endswith(".variance_noise")), key=lambda k: int(k[4:].split(".")[0]))
    got = [bundle["in.initial_noise"]] + ([bundle["in.noise"]] if stage == "II" else [])
    for name in names:
        expected.append(torch.randn(bundle[name].shape, generator=gen))
        got.append(bundle[name])
    if not all(torch.equal(a, b) for a, b in zip(expected, got)):
        raise RuntimeError(f"loop-{stage}: recorded noise is not the seeded generator's sequence")


def build(repo_root: pathlib.Path) -> None:
    offline_env()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # summation order independent of the machine's core count
    import dump_reference  # scripts/ is on sys.path (make_fixtures.py)

    dump_reference.quiet_libraries()
    fixtures = repo_root / "fixtures"
    stage1 = str(fixtures / "IF-I-tiny")
    stage2 = str(fixtures / "IF-II-tiny")
    out_dir = fixtures / "reference"
    out_dir.mkdir(parents=True, exist_ok=True)

    tokenizer = dump_reference.load_tokenizer(pathlib.Path(stage1))
    prompts = PROMPTS + boundary_prompts(tokenizer)

    def save(name, tensors, meta):
        write_safetensors(out_dir / name, tensors, meta)
        print(f"reference: {name}: {len(tensors)} tensors, {(out_dir / name).stat().st_size} bytes")

    tensors, meta = run_dump(dump_reference, ["--snapshot", stage1, "--kind", "tokenizer", "-o", "-",
                                              "--prompts", *prompts])
    save("tokenizer.safetensors", tensors, meta)
    print(f"reference: tokenizer rows where plain sentencepiece differs: {meta['sentencepiece_disagrees']}")
    tensors, meta = run_dump(dump_reference, ["--snapshot", stage1, "--kind", "tokenizer", "-o", "-",
                                              "--prompts", *EDGE_PROMPTS])
    save("tokenizer-edge.safetensors", tensors, meta)
    print(f"reference: tokenizer-edge rows where plain sentencepiece differs: {meta['sentencepiece_disagrees']}")
    tensors, meta = run_dump(dump_reference, ["--snapshot", stage1, "--kind", "t5", "-o", "-",
                                              "--prompts", *prompts])
    save("t5.safetensors", tensors, meta)

    tensors, meta = run_dump(dump_reference, ["--snapshot", stage1, "--kind", "unet-I", "-o", "-", "--acts", "all",
                                              "--seed", "11", "--unet-timesteps", "981", "421",
                                              "--prompts", *UNET_PROMPTS])
    save("unet-I.safetensors", tensors, meta)
    tensors, meta = run_dump(dump_reference, ["--snapshot", stage2, "--text-snapshot", stage1, "--kind", "unet-II",
                                              "-o", "-", "--seed", "12", "--unet-timesteps", "999", "400",
                                              "--class-labels", "250", "100", "--prompts", *UNET_PROMPTS])
    save("unet-II.safetensors", tensors, meta)

    loop1, meta1 = run_dump(dump_reference, ["--snapshot", stage1, "--kind", "loop-I", "-o", "-", "--seed", "21",
                                             "--steps", "5", "--guidance-scale", "7.0", "--prompts", *LOOP_PROMPTS])
    save("loop-I.safetensors", loop1, meta1)

    loop2, meta2 = run_dump(dump_reference, ["--snapshot", stage2, "--text-snapshot", stage1, "--kind", "loop-II",
                                             "-o", "-", "--seed", "22", "--guidance-scale", "4.0",
                                             "--noise-level", "250", "--low-res", str(out_dir / "loop-I.safetensors"),
                                             "--timesteps", *map(str, LOOP_II_TIMESTEPS), "--prompts", *LOOP_PROMPTS])
    save("loop-II.safetensors", loop2, meta2)

    # self-checks
    unet1, _ = dump_reference.load_unet(pathlib.Path(stage1), None)
    unet2, _ = dump_reference.load_unet(pathlib.Path(stage2), None)
    check_generator_use(loop1, 21, "I")
    check_generator_use(loop2, 22, "II")
    err1 = replay(loop1, unet1, "I", 1.5, 7.0, json.loads(meta1["expected_timesteps"]))
    err2 = replay(loop2, unet2, "II", 1.0, 4.0, LOOP_II_TIMESTEPS)
    print(f"reference: loop replays match diffusers (worst rel L2: I {err1:.3g}, II {err2:.3g})")
