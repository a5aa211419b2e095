#!/usr/bin/env python3
"""Dump a reference bundle (safetensors) from diffusers/transformers for `ifconvert verify`.

The bundle contract is documented in docs/VERIFY.md: inputs `in.<argument>`, expected outputs
`out.<name>`, intermediate activations `act.<module path>`, per-step loop tensors `step<i>.<name>`,
debugging extras `check.<name>`, string parameters in `__metadata__`. All references are computed in
float32 from the weights as stored (fp16 files widened to float32), UNet attention through diffusers'
`AttnAddedKVProcessor`. Examples:

    python scripts/dump_reference.py --snapshot IF-I-XL-v1.0 --kind tokenizer --prompts "a red fox" -o tok.safetensors
    python scripts/dump_reference.py --snapshot IF-I-XL-v1.0 --kind t5 --prompts "a red fox" "" -o t5.safetensors
    python scripts/dump_reference.py --snapshot IF-I-XL-v1.0 --kind unet-I --prompts "a red fox" -o unet.safetensors
    python scripts/dump_reference.py --snapshot IF-I-XL-v1.0 --kind loop-I --steps 5 --prompts "a red fox" -o loop1.safetensors
    python scripts/dump_reference.py --snapshot IF-II-L-v1.0 --text-snapshot IF-I-XL-v1.0 --kind loop-II \\
        --low-res loop1.safetensors --timesteps 999 800 799 400 0 --prompts "a red fox" -o loop2.safetensors

Works offline (HF_HUB_OFFLINE=1); needs only the snapshot folder(s). Memory: T5-XXL in float32 needs
about 19 GB, IF-I-XL about 17 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import pathlib
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixturegen.common import write_safetensors  # noqa: E402

KINDS = ["tokenizer", "t5", "unet-I", "unet-II", "loop-I", "loop-II"]
MAX_LENGTH = 77  # IFPipeline.encode_prompt hard-codes it

# Per stage: default guidance scale (IFPipeline / IFSuperResolutionPipeline defaults).
DEFAULT_GUIDANCE = {"I": 7.0, "II": 4.0}


class DumpError(Exception):
    pass


# ---------------------------------------------------------------------------------------------------
# loading (float32 from the stored weights)

def pick_variant(component_dir: pathlib.Path, requested: str | None) -> str | None:
    """`fp16` when the folder holds fp16-variant files and nothing else was asked for (IF's published
    snapshots always do), else the requested variant (None = plain files)."""
    if requested is not None:
        return None if requested == "none" else requested
    if any(".fp16." in p.name for p in component_dir.iterdir()):
        return "fp16"
    return None


def weights_description(component_dir: pathlib.Path, variant: str | None) -> str:
    names = sorted(p.name for p in component_dir.iterdir()
                   if p.suffix == ".safetensors" and ((".fp16" in p.name) == (variant == "fp16")))
    return ", ".join(f"{component_dir.name}/{n}" for n in names)


def load_tokenizer(snapshot: pathlib.Path):
    from transformers import T5Tokenizer

    folder = snapshot / "tokenizer"
    if not (folder / "spiece.model").is_file():
        raise DumpError(f"{folder}/spiece.model not found; pass --text-snapshot with a stage I snapshot")
    return T5Tokenizer.from_pretrained(str(folder))


def load_t5(snapshot: pathlib.Path, variant: str | None):
    from transformers import T5EncoderModel

    folder = snapshot / "text_encoder"
    if not folder.is_dir():
        raise DumpError(f"{folder} not found; pass --text-snapshot with a stage I snapshot")
    variant = pick_variant(folder, variant)
    model = T5EncoderModel.from_pretrained(str(folder), variant=variant, dtype=torch.float32)
    model = model.to(torch.float32).eval()  # `wo` is kept float32 by transformers anyway
    return model, weights_description(folder, variant)


def load_unet(snapshot: pathlib.Path, variant: str | None):
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import AttnAddedKVProcessor

    folder = snapshot / "unet"
    if not folder.is_dir():
        raise DumpError(f"{folder} not found")
    variant = pick_variant(folder, variant)
    unet = UNet2DConditionModel.from_pretrained(str(folder), variant=variant, torch_dtype=torch.float32)
    unet = unet.eval()
    # Not the SDPA processor: baddbmm + fp32 softmax, the formulation our runner mirrors (diffusers'
    # own IF tests force it "for reproducibility").
    unet.set_attn_processor(AttnAddedKVProcessor())
    return unet, weights_description(folder, variant)


def load_scheduler(snapshot: pathlib.Path, subfolder: str):
    from diffusers import DDPMScheduler

    if not (snapshot / subfolder / "scheduler_config.json").is_file():
        raise DumpError(f"{snapshot / subfolder}/scheduler_config.json not found")
    return DDPMScheduler.from_pretrained(str(snapshot), subfolder=subfolder)


def versions() -> str:
    import diffusers
    import transformers

    return json.dumps({"torch": torch.__version__, "diffusers": diffusers.__version__,
                       "transformers": transformers.__version__}, sort_keys=True)


# ---------------------------------------------------------------------------------------------------
# tokenizer and text encoder

def preprocess(prompt: str) -> str:
    """IFPipeline._text_preprocessing with clean_caption=False (encode_prompt's default)."""
    return prompt.lower().strip()


def tokenize(tokenizer, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tokenizer([preprocess(p) for p in prompts], padding="max_length", max_length=MAX_LENGTH,
                    truncation=True, add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    return enc.input_ids.to(torch.int64), enc.attention_mask.to(torch.int64)


def sentencepiece_ids(snapshot: pathlib.Path, prompts: list[str]) -> list[list[int]]:
    """What plain sentencepiece (the library our runner links) gives: pieces, truncated to 76, + </s>."""
    import sentencepiece as spm

    proc = spm.SentencePieceProcessor(model_file=str(snapshot / "tokenizer" / "spiece.model"))
    out = []
    for prompt in prompts:
        ids = proc.encode(preprocess(prompt))[: MAX_LENGTH - 1] + [proc.eos_id()]
        out.append(ids + [proc.pad_id()] * (MAX_LENGTH - len(ids)))
    return out


@contextlib.contextmanager
def capture_outputs(root: torch.nn.Module, names: list[str], store: dict[str, torch.Tensor], prefix="act."):
    """Forward hooks recording the output of each named sub-module (the first element when the module
    returns a tuple; the first call when a module runs more than once per forward)."""
    modules = dict(root.named_modules())
    handles = []
    for name in names:
        if name not in modules:
            raise DumpError(f"no sub-module named {name!r}")

        def hook(_module, _inputs, output, key=prefix + name):
            if key in store:
                return
            value = output[0] if isinstance(output, (tuple, list)) else output
            store[key] = value.detach().to(torch.float32).clone()

        handles.append(modules[name].register_forward_hook(hook))
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def encode(t5, input_ids: torch.Tensor, attention_mask: torch.Tensor, with_acts: bool):
    acts: dict[str, torch.Tensor] = {}
    names = ["encoder.embed_tokens"] + [f"encoder.block.{i}" for i in range(len(t5.encoder.block))]
    with capture_outputs(t5, names if with_acts else [], acts):
        hidden = t5(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return hidden.to(torch.float32), acts


def prompt_embeddings(text_snapshot: pathlib.Path, variant: str | None, prompts: list[str]):
    """(prompt_embeds, negative_prompt_embeds) exactly as IFPipeline.encode_prompt makes them (negative
    prompt "" for each prompt), in float32."""
    tokenizer = load_tokenizer(text_snapshot)
    t5, weights = load_t5(text_snapshot, variant)
    ids, mask = tokenize(tokenizer, prompts)
    embeds, _ = encode(t5, ids, mask, with_acts=False)
    neg_ids, neg_mask = tokenize(tokenizer, [""] * len(prompts))
    negative, _ = encode(t5, neg_ids, neg_mask, with_acts=False)
    return embeds, negative, weights


def dump_tokenizer(args) -> tuple[dict, dict]:
    tokenizer = load_tokenizer(args.text_snapshot)
    ids, mask = tokenize(tokenizer, args.prompts)
    plain = sentencepiece_ids(args.text_snapshot, args.prompts)
    disagree = [i for i, row in enumerate(plain) if row != ids[i].tolist()]
    tensors = {"out.input_ids": ids, "out.attention_mask": mask}
    meta = {
        "kind": "tokenizer",
        "prompts": json.dumps(args.prompts, ensure_ascii=False),
        "preprocessing": "prompt.lower().strip()",
        "max_length": str(MAX_LENGTH),
        "tokenizer": "transformers T5Tokenizer, padding=max_length, truncation=True, add_special_tokens=True",
        # Rows where libsentencepiece (encode + truncate to 76 + </s> + <pad>) differs from T5Tokenizer.
        "sentencepiece_disagrees": json.dumps(disagree),
    }
    return tensors, meta


def dump_t5(args) -> tuple[dict, dict]:
    tokenizer = load_tokenizer(args.text_snapshot)
    t5, weights = load_t5(args.text_snapshot, args.variant)
    ids, mask = tokenize(tokenizer, args.prompts)
    hidden, acts = encode(t5, ids, mask, with_acts=True)
    tensors = {"in.input_ids": ids, "in.attention_mask": mask, "out.last_hidden_state": hidden, **acts}
    meta = {
        "kind": "t5",
        "prompts": json.dumps(args.prompts, ensure_ascii=False),
        "weights": weights,
        "dtype": "float32",
        "acts": "forward hooks: act.encoder.embed_tokens = embedding lookup [B,77,d_model]; "
                "act.encoder.block.{i} = first output of T5Block i (hidden states after its FFN residual, "
                "before the next block; the last one is before encoder.final_layer_norm)",
    }
    return tensors, meta


# ---------------------------------------------------------------------------------------------------
# UNet forward

def unet_act_names(unet, detail: str) -> list[str]:
    names = ["time_proj", "time_embedding"]
    for optional in ("class_embedding", "add_embedding", "time_embed_act", "encoder_hid_proj"):
        if getattr(unet, optional, None) is not None:
            names.append(optional)
    names.append("conv_in")
    for i, block in enumerate(unet.down_blocks):
        names += block_children(f"down_blocks.{i}", block, detail)
    names += block_children("mid_block", unet.mid_block, detail)
    for i, block in enumerate(unet.up_blocks):
        names += block_children(f"up_blocks.{i}", block, detail)
    names += ["conv_norm_out", "conv_act", "conv_out"]
    return names


def block_children(prefix: str, block, detail: str) -> list[str]:
    if detail != "all":
        return [prefix]
    names = []
    # Execution order of diffusers' simple blocks: resnet j then attention j (mid: resnet 0, then
    # (attention j, resnet j+1)); samplers last. Listing order only affects the report order.
    resnets = list(getattr(block, "resnets", []))
    attentions = list(getattr(block, "attentions", []) or [])
    if prefix == "mid_block":
        names.append(f"{prefix}.resnets.0")
        for j in range(len(attentions)):
            names += [f"{prefix}.attentions.{j}", f"{prefix}.resnets.{j + 1}"]
    else:
        for j in range(len(resnets)):
            names.append(f"{prefix}.resnets.{j}")
            if j < len(attentions):
                names.append(f"{prefix}.attentions.{j}")
    for kind in ("downsamplers", "upsamplers"):
        if getattr(block, kind, None) is not None:
            names += [f"{prefix}.{kind}.{j}" for j in range(len(getattr(block, kind)))]
    return names + [prefix]


@torch.no_grad()
def unet_forward(unet, sample, timestep, encoder_hidden_states, class_labels, detail: str):
    acts: dict[str, torch.Tensor] = {}
    with capture_outputs(unet, unet_act_names(unet, detail), acts):
        out = unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, class_labels=class_labels,
                   return_dict=False)[0]
    return out.to(torch.float32), acts


def dump_unet(args, stage: str) -> tuple[dict, dict]:
    unet, weights = load_unet(args.snapshot, args.variant)
    prompts = args.prompts
    embeds, negative, te_weights = prompt_embeddings(args.text_snapshot, args.variant, prompts)
    # batch = [uncond..., cond...] as in a guided step; timesteps differ per sample on purpose
    ehs = torch.cat([negative, embeds])
    batch = ehs.shape[0]
    size = args.size or unet.config.sample_size
    gen = torch.Generator().manual_seed(args.seed)
    sample = torch.randn((batch, unet.config.in_channels, size, size), generator=gen, dtype=torch.float32)
    timesteps = args.unet_timesteps or [981, 421]
    timestep = torch.tensor([timesteps[i % len(timesteps)] for i in range(batch)], dtype=torch.int64)
    tensors = {"in.sample": sample, "in.timestep": timestep, "in.encoder_hidden_states": ehs}
    class_labels = None
    if unet.config.class_embed_type is not None:
        levels = args.class_labels or [250, 100]
        class_labels = torch.tensor([levels[i % len(levels)] for i in range(batch)], dtype=torch.int64)
        tensors["in.class_labels"] = class_labels
    out, acts = unet_forward(unet, sample, timestep, ehs, class_labels, args.acts)
    tensors["out.sample"] = out
    tensors.update(acts)
    meta = {
        "kind": "unet",
        "stage": stage,
        "prompts": json.dumps(prompts, ensure_ascii=False),
        "encoder_hidden_states": "cat([T5('') x B, T5(prompts)]) from " + te_weights,
        "weights": weights,
        "dtype": "float32",
        "attention_processor": "AttnAddedKVProcessor",
        "seed": str(args.seed),
        "acts": "forward hooks, first call, first element of a tuple output: act.time_proj = timestep "
                "sinusoid [B, block_out_channels[0]]; act.time_embedding = TimestepEmbedding output; "
                "act.class_embedding (stage II) = class embedding of the noise level; act.add_embedding "
                "= text pooling embedding; act.time_embed_act (stage II) = GELU of the summed embedding "
                "(what the resnets receive); act.encoder_hid_proj = projected text states; "
                "act.down_blocks.{i} = hidden states leaving down block i (after its downsampler); "
                "act.up_blocks.{i} = hidden states leaving up block i (after its upsampler); "
                "act.<block>.resnets.{j} / .attentions.{j} / .downsamplers.0 / .upsamplers.0 = that "
                "module's output; act.conv_out = out.sample",
    }
    return tensors, meta


# ---------------------------------------------------------------------------------------------------
# sampling loops: run the real pipeline, record every random draw and every step

@contextlib.contextmanager
def recording_randn(modules: list, log: list[tuple[str, torch.Tensor]]):
    """Wrap diffusers' randn_tensor as seen by the given modules, logging (module tag, tensor)."""
    saved = []
    for module in modules:
        original = module.randn_tensor

        def wrapper(*a, _original=original, _tag=module.__name__.rsplit(".", 1)[-1], **kw):
            value = _original(*a, **kw)
            log.append((_tag, value.detach().clone()))
            return value

        saved.append((module, original))
        module.randn_tensor = wrapper
    try:
        yield log
    finally:
        for module, original in saved:
            module.randn_tensor = original


def record_steps(scheduler, steps: list[dict]):
    original = scheduler.step

    # functools.wraps keeps step's signature visible: the pipeline passes `generator` only when
    # inspect.signature(scheduler.step) has it, and without it the variance noise would come from the
    # global RNG instead of the pipeline's generator.
    @functools.wraps(original)
    def step(model_output, timestep, sample, *a, **kw):
        result = original(model_output, timestep, sample, *a, **kw)
        prev = result[0] if isinstance(result, tuple) else result.prev_sample
        steps.append({"t": int(timestep), "model_output": model_output.detach().clone(),
                      "sample": sample.detach().clone(), "prev_sample": prev.detach().clone()})
        return result

    scheduler.step = step


def loop_tensors(draws, steps, first_noise_tag: str) -> dict:
    """Split the recorded draws: pipeline draws first (initial noise, then stage II's image noise), then
    one scheduler draw per step with t > 0, in step order."""
    pipeline_draws = [v for tag, v in draws if tag != "scheduling_ddpm"]
    scheduler_draws = [v for tag, v in draws if tag == "scheduling_ddpm"]
    tensors = {"in.initial_noise": pipeline_draws[0]}
    noisy_steps = [i for i, s in enumerate(steps) if s["t"] > 0]
    if len(noisy_steps) != len(scheduler_draws):
        raise DumpError(f"recorded {len(scheduler_draws)} variance draws for {len(noisy_steps)} steps with t > 0")
    for i, noise in zip(noisy_steps, scheduler_draws):
        tensors[f"step{i}.variance_noise"] = noise
    for i, s in enumerate(steps):
        tensors[f"step{i}.model_output"] = s["model_output"]
        tensors[f"step{i}.prev_sample"] = s["prev_sample"]
    if first_noise_tag == "II":
        tensors["in.noise"] = pipeline_draws[1]
    return tensors


def null_components() -> dict:
    return dict(safety_checker=None, feature_extractor=None, watermarker=None, requires_safety_checker=False)


@torch.no_grad()
def dump_loop(args, stage: str) -> tuple[dict, dict]:
    import diffusers.pipelines.deepfloyd_if.pipeline_if as pipeline_if_module
    import diffusers.pipelines.deepfloyd_if.pipeline_if_superresolution as pipeline_sr_module
    import diffusers.schedulers.scheduling_ddpm as ddpm_module
    from diffusers import IFPipeline, IFSuperResolutionPipeline

    unet, weights = load_unet(args.snapshot, args.variant)
    scheduler = load_scheduler(args.snapshot, "scheduler")
    embeds, negative, te_weights = prompt_embeddings(args.text_snapshot, args.variant, args.prompts)
    guidance = args.guidance_scale if args.guidance_scale is not None else DEFAULT_GUIDANCE[stage]
    gen = torch.Generator().manual_seed(args.seed)
    steps: list[dict] = []
    draws: list[tuple[str, torch.Tensor]] = []
    record_steps(scheduler, steps)
    call = dict(prompt_embeds=embeds, negative_prompt_embeds=negative, guidance_scale=guidance,
                generator=gen, output_type="pt", return_dict=False)
    if args.timesteps:
        call["timesteps"] = list(args.timesteps)
    else:
        call["num_inference_steps"] = args.steps
    tensors: dict[str, torch.Tensor] = {"in.prompt_embeds": embeds, "in.negative_prompt_embeds": negative}
    meta = {
        "kind": f"loop-{stage}",
        "prompts": json.dumps(args.prompts, ensure_ascii=False),
        "negative_prompt": "",
        "guidance_scale": repr(float(guidance)),
        "weights": weights,
        "text_encoder_weights": te_weights,
        "dtype": "float32",
        "attention_processor": "AttnAddedKVProcessor",
        "seed": str(args.seed),
        "scheduler_config": json.dumps({k: v for k, v in scheduler.config.items() if not k.startswith("_")},
                                       sort_keys=True),
    }
    if stage == "I":
        pipe = IFPipeline(tokenizer=None, text_encoder=None, unet=unet, scheduler=scheduler, **null_components())
        pipe.set_progress_bar_config(disable=True)
        with recording_randn([pipeline_if_module, ddpm_module], draws):
            image = pipe(**call)[0]
    else:
        noising = load_scheduler(args.snapshot, "image_noising_scheduler")
        low_res = low_res_input(args, len(args.prompts))
        pipe = IFSuperResolutionPipeline(tokenizer=None, text_encoder=None, unet=unet, scheduler=scheduler,
                                         image_noising_scheduler=noising, **null_components())
        pipe.set_progress_bar_config(disable=True)
        with recording_randn([pipeline_sr_module, ddpm_module], draws):
            image = pipe(image=low_res, noise_level=args.noise_level, **call)[0]
        tensors["in.low_res"] = low_res
        tensors["in.noise_level"] = torch.tensor([args.noise_level] * low_res.shape[0], dtype=torch.int64)
        meta["image_noising_scheduler_config"] = json.dumps(
            {k: v for k, v in noising.config.items() if not k.startswith("_")}, sort_keys=True)
    tensors.update(loop_tensors(draws, steps, stage))
    if stage == "II":
        tensors["check.upscaled"] = noised_upscaled(low_res, unet.config.sample_size, noising,
                                                    tensors["in.noise"], args.noise_level)
    timesteps_used = [s["t"] for s in steps]
    if args.timesteps:
        tensors["in.timesteps"] = torch.tensor(timesteps_used, dtype=torch.int64)
    else:
        meta["num_inference_steps"] = str(args.steps)
        meta["timestep_spacing"] = scheduler.config.timestep_spacing
    meta["expected_timesteps"] = json.dumps(timesteps_used)
    # float32 table; torch's CPU cumprod accumulates in double and rounds each element to float32
    tensors["check.alphas_cumprod"] = scheduler.alphas_cumprod.to(torch.float32).clone()
    tensors["out.image"] = image.to(torch.float32)
    return tensors, meta


def noised_upscaled(low_res, size, noising, noise, noise_level):
    """The 3 conditioning channels stage II concatenates: bilinear (align_corners) upscale, then
    image_noising_scheduler.add_noise at noise_level (check value; the pipeline computes the same)."""
    import torch.nn.functional as F

    upscaled = F.interpolate(low_res, (size, size), mode="bilinear", align_corners=True)
    if noise is None:
        return upscaled
    level = torch.tensor([noise_level] * upscaled.shape[0])
    return noising.add_noise(upscaled, noise, level)


def low_res_input(args, batch: int) -> torch.Tensor:
    if args.low_res:
        from safetensors.torch import load_file

        image = load_file(str(args.low_res))["out.image"].to(torch.float32)
        if image.shape[0] != batch:
            raise DumpError(f"--low-res {args.low_res}: out.image has batch {image.shape[0]}, "
                            f"expected {batch} (one per prompt)")
        return image
    gen = torch.Generator().manual_seed(args.seed + 1)
    return torch.rand((batch, 3, 64, 64), generator=gen) * 2 - 1


# ---------------------------------------------------------------------------------------------------

def build_bundle(args) -> tuple[dict, dict]:
    if args.kind == "tokenizer":
        tensors, meta = dump_tokenizer(args)
    elif args.kind == "t5":
        tensors, meta = dump_t5(args)
    elif args.kind in ("unet-I", "unet-II"):
        tensors, meta = dump_unet(args, args.kind.split("-")[1])
    else:
        tensors, meta = dump_loop(args, args.kind.split("-")[1])
    meta["generator"] = "scripts/dump_reference.py"
    meta["versions"] = versions()
    meta["snapshot"] = args.snapshot.name
    return tensors, meta


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", type=pathlib.Path, required=True, help="diffusers snapshot folder")
    parser.add_argument("--text-snapshot", type=pathlib.Path,
                        help="snapshot holding text_encoder/ and tokenizer/ (default: --snapshot)")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--prompts", nargs="+", default=["a photo of a red fox sitting in the snow"])
    parser.add_argument("-o", "--output", type=pathlib.Path, required=True)
    parser.add_argument("--variant", help="weights variant: fp16 (default when present) or none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=5, help="loops: inference steps (leading spacing)")
    parser.add_argument("--timesteps", type=int, nargs="+", help="loops: explicit descending timesteps")
    parser.add_argument("--guidance-scale", type=float, help="loops: default 7.0 (I) / 4.0 (II)")
    parser.add_argument("--noise-level", type=int, default=250, help="loop-II: image noise level")
    parser.add_argument("--low-res", type=pathlib.Path, help="loop-II: a loop-I bundle whose out.image to upscale")
    parser.add_argument("--size", type=int, help="unet: spatial size (default: the UNet's sample_size)")
    parser.add_argument("--unet-timesteps", type=int, nargs="+", help="unet: per-sample timesteps (cycled)")
    parser.add_argument("--class-labels", type=int, nargs="+", help="unet-II: per-sample noise levels (cycled)")
    parser.add_argument("--acts", choices=["blocks", "all"], default="blocks",
                        help="unet: top-level blocks only, or every resnet/attention/sampler too")
    args = parser.parse_args(argv)
    args.text_snapshot = args.text_snapshot or args.snapshot
    return args


def quiet_libraries() -> None:
    """Keep stderr for our own messages (the libraries warn about accelerate, torchvision, ...)."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    quiet_libraries()
    torch.manual_seed(args.seed)
    try:
        tensors, meta = build_bundle(args)
    except DumpError as error:
        print(f"dump_reference: {error}", file=sys.stderr)
        return 1
    write_safetensors(args.output, tensors, meta)
    size = args.output.stat().st_size
    print(f"dump_reference: wrote {args.output} ({len(tensors)} tensors, {size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
