"""Tiny IF stage I / stage II snapshots in the Hugging Face hub layout, built with the real classes.

Outputs (owned here; root config.yml / pytorch_model.bin belong to original_layout.py):
  fixtures/IF-I-tiny/{model_index.json, unet/, text_encoder/, tokenizer/, scheduler/}
  fixtures/IF-II-tiny/{model_index.json, unet/, scheduler/, image_noising_scheduler/} (no text encoder)
"""

from __future__ import annotations

import io
import pathlib

import sentencepiece as spm
import torch
from safetensors.torch import save_file

from .common import fresh_dir, offline_env, reinit_parameters, scratch_dir, write_json

# ---- configurations (documented in fixtures/README.md; the runner helpers depend on them) ----

T5_D_MODEL = 64
SPM_VOCAB_SIZE = 500  # sentencepiece pieces incl. <pad> </s> <unk>; T5Tokenizer adds 100 <extra_id_*>
T5_EXTRA_IDS = 100

UNET_I_CONFIG = dict(
    sample_size=16,
    in_channels=3,
    out_channels=6,
    down_block_types=["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D"],
    mid_block_type="UNetMidBlock2DSimpleCrossAttn",
    up_block_types=["SimpleCrossAttnUpBlock2D", "SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"],
    # model_channels 32, channel_mult 1,1,2 (kept tiny: three files hold every weight). The original
    # UNetModel's time embedding width is model_channels x max(mult) = 64, not diffusers' default 4 x 32,
    # so it is explicit here (IF-I-XL gets away with null because its max(mult) is 4).
    block_out_channels=[32, 32, 64],
    layers_per_block=1,
    time_embedding_dim=64,
    attention_head_dim=16,  # the real models use 64; heads per level = channels / 16 = 2, 4 (mid 4)
    norm_num_groups=32,
    norm_eps=1e-5,
    # Unlike encoder_hid_dim 64: the original UNetModel has encoder_proj only when its encoder_channels differ
    # from the T5 width, and the original-layout fixture needs it to express diffusers' encoder_hid_proj.
    # 128, not 32: norm_cross is GroupNorm(32 groups) over this width, and with 32 channels each group is one
    # channel over 77 tokens; for T5("") the pad tokens are nearly equal (std 0.015 vs |mean| 0.8), so that
    # norm amplifies fp32 rounding ~50x and torch's own fp32 output is 1.9e-5 (rel L2) off its fp64 result.
    # 4 channels per group keeps the groups' variance O(1) (torch fp32 vs fp64 then ~1e-6), like IF-I-XL.
    cross_attention_dim=128,
    encoder_hid_dim=T5_D_MODEL,
    encoder_hid_dim_type="text_proj",
    addition_embed_type="text",
    # 8 pooling heads of 8 dims: on purpose unlike channels/head_dim (2, 4) and the T5 head count (4), so a
    # converter must take att_pool_heads from the config rather than derive it (IF-I-XL: 64 heads of 64)
    addition_embed_type_num_heads=8,
    act_fn="gelu",
    resnet_time_scale_shift="scale_shift",
    cross_attention_norm="group_norm",
    flip_sin_to_cos=True,
    freq_shift=0,
    downsample_padding=1,
    mid_block_scale_factor=1,
    upcast_attention=False,
    use_linear_projection=False,
)

UNET_II_CONFIG = dict(
    sample_size=32,
    in_channels=6,
    out_channels=6,
    down_block_types=["ResnetDownsampleBlock2D", "ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"],
    mid_block_type="UNetMidBlock2DSimpleCrossAttn",
    up_block_types=["SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D", "ResnetUpsampleBlock2D"],
    block_out_channels=[32, 32, 32],
    layers_per_block=[1, 2, 2],  # per level, like IF-II-L's [2, 2, 3, 5, 5]
    attention_head_dim=16,
    norm_num_groups=32,
    norm_eps=1e-5,
    cross_attention_dim=32,
    encoder_hid_dim=T5_D_MODEL,
    encoder_hid_dim_type="text_proj",
    addition_embed_type="text",
    addition_embed_type_num_heads=8,
    class_embed_type="timestep",
    # model_channels x max(mult) = 32 x 1; differs from the default 4 x 32, so it must be read from the config
    time_embedding_dim=32,
    time_embedding_act_fn="gelu",
    resnet_skip_time_act=True,
    resnet_out_scale_factor=1.4142271248762552,
    mid_block_scale_factor=1.4142271248762552,
    act_fn="gelu",
    resnet_time_scale_shift="scale_shift",
    cross_attention_norm="group_norm",
    flip_sin_to_cos=True,
    freq_shift=0,
    downsample_padding=1,
    upcast_attention=False,
    use_linear_projection=False,
)

T5_CONFIG = dict(
    d_model=T5_D_MODEL,
    d_kv=16,
    num_heads=4,
    d_ff=128,
    num_layers=2,
    num_decoder_layers=2,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    feed_forward_proj="gated-gelu",  # T5 v1.1; transformers derives dense_act_fn "gelu_new"
    layer_norm_epsilon=1e-6,
    dropout_rate=0.1,
    initializer_factor=1.0,
    tie_word_embeddings=False,
    is_encoder_decoder=True,
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
    use_cache=True,
)

SEED_UNET_I = 1001
SEED_UNET_II = 2002
SEED_T5 = 3003

# Stage I scheduler_config.json exactly as published for IF-I-XL (IF-FACTS 3.5), older diffusers keys only.
SCHEDULER_I = {
    "_class_name": "DDPMScheduler",
    "_diffusers_version": "0.15.0.dev0",
    "beta_end": 0.02,
    "beta_schedule": "squaredcos_cap_v2",
    "beta_start": 0.0001,
    "clip_sample": True,
    "clip_sample_range": 1.0,
    "dynamic_thresholding_ratio": 0.95,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.5,
    "thresholding": True,
    "trained_betas": None,
    "variance_type": "learned_range",
    "lambda_min_clipped": -5.1,
}

MODEL_INDEX_COMMON = {
    "_diffusers_version": "0.15.0.dev0",
    "_ignore_files": ["pytorch_model.bin"],
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "requires_safety_checker": True,
    "safety_checker": ["deepfloyd_if", "IFSafetyChecker"],
    "scheduler": ["diffusers", "DDPMScheduler"],
    "text_encoder": ["transformers", "T5EncoderModel"],
    "tokenizer": ["transformers", "T5Tokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "watermarker": ["deepfloyd_if", "IFWatermarker"],
}

ST_METADATA = {"format": "pt"}


# ---- tokenizer ----

def corpus_lines() -> list[str]:
    path = pathlib.Path(__file__).with_name("corpus.txt")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def train_spiece() -> bytes:
    """A unigram sentencepiece model with T5's special ids (pad 0, eos 1, unk 2, no bos)."""
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines()),
        model_writer=buffer,
        model_type="unigram",
        vocab_size=SPM_VOCAB_SIZE,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        character_coverage=1.0,
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
        byte_fallback=False,
        num_threads=1,
        minloglevel=2,
    )
    return buffer.getvalue()


def write_tokenizer(out_dir: pathlib.Path, model_bytes: bytes) -> int:
    """spiece.model + tokenizer_config.json + special_tokens_map.json (the published IF file set).

    Returns len(tokenizer) (sentencepiece pieces + 100 extra ids), the T5 vocab size.
    """
    from transformers import T5Tokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "spiece.model").write_bytes(model_bytes)
    extra = [f"<extra_id_{i}>" for i in range(T5_EXTRA_IDS)]
    # Written by hand (stable, no absolute paths); the fields mirror the t5-v1_1 / IF files.
    write_json(out_dir / "special_tokens_map.json", {
        "additional_special_tokens": extra,
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
    })
    write_json(out_dir / "tokenizer_config.json", {
        "additional_special_tokens": extra,
        "clean_up_tokenization_spaces": True,
        "eos_token": "</s>",
        "extra_ids": T5_EXTRA_IDS,
        "legacy": True,
        "model_max_length": 512,
        "pad_token": "<pad>",
        "sp_model_kwargs": {},
        "tokenizer_class": "T5Tokenizer",
        "unk_token": "<unk>",
    })
    tokenizer = T5Tokenizer.from_pretrained(str(out_dir))
    size = len(tokenizer)
    if size != SPM_VOCAB_SIZE + T5_EXTRA_IDS or tokenizer.pad_token_id != 0 or tokenizer.eos_token_id != 1:
        raise RuntimeError(f"unexpected T5Tokenizer from {out_dir}: size {size}, pad {tokenizer.pad_token_id}, "
                           f"eos {tokenizer.eos_token_id}")
    return size


# ---- text encoder ----

def build_t5(vocab_size: int) -> torch.nn.Module:
    from transformers import T5Config, T5EncoderModel

    config = T5Config(vocab_size=vocab_size, **T5_CONFIG)
    model = T5EncoderModel(config).eval()
    reinit_parameters(model, SEED_T5)
    return model


def write_t5(out_dir: pathlib.Path, model: torch.nn.Module) -> None:
    """Sharded fp16 safetensors with FFN `wo` kept F32, like the published T5-v1.1-XXL fp16 variant."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if name == "encoder.embed_tokens.weight":
            continue  # tied to shared.weight; the published files do not store it
        if name.endswith(".DenseReluDense.wo.weight"):
            tensors[name] = value.detach().to(torch.float32).contiguous()
        else:
            tensors[name] = value.detach().to(torch.float16).contiguous()
    # shard 1: embeddings + block 0 (the big first shard of the real checkpoint); shard 2: the rest
    first = {n: t for n, t in tensors.items() if n == "shared.weight" or n.startswith("encoder.block.0.")}
    second = {n: t for n, t in tensors.items() if n not in first}
    names = ["model.fp16-00001-of-00002.safetensors", "model.fp16-00002-of-00002.safetensors"]
    weight_map = {}
    for file_name, part in zip(names, (first, second)):
        save_file(part, str(out_dir / file_name), metadata=ST_METADATA)
        weight_map.update({n: file_name for n in part})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    write_json(out_dir / "model.safetensors.index.fp16.json",
               {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))})
    # The key set of the published IF text_encoder/config.json (IF-FACTS 3.5), with the tiny values;
    # transformers' own to_dict() would add a dozen generic keys the real file lacks.
    import transformers

    cfg = model.config
    write_json(out_dir / "config.json", {
        "_name_or_path": "./",
        "architectures": ["T5EncoderModel"],
        "d_ff": cfg.d_ff,
        "d_kv": cfg.d_kv,
        "d_model": cfg.d_model,
        "decoder_start_token_id": 0,
        "dense_act_fn": cfg.dense_act_fn,
        "dropout_rate": cfg.dropout_rate,
        "eos_token_id": 1,
        "feed_forward_proj": cfg.feed_forward_proj,
        "initializer_factor": cfg.initializer_factor,
        "is_encoder_decoder": True,
        "is_gated_act": cfg.is_gated_act,
        "layer_norm_epsilon": cfg.layer_norm_epsilon,
        "model_type": "t5",
        "num_decoder_layers": T5_CONFIG["num_decoder_layers"],
        "num_heads": cfg.num_heads,
        "num_layers": cfg.num_layers,
        "output_past": True,
        "pad_token_id": 0,
        "relative_attention_max_distance": cfg.relative_attention_max_distance,
        "relative_attention_num_buckets": cfg.relative_attention_num_buckets,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "vocab_size": cfg.vocab_size,
    })


# ---- UNets ----

def build_unet(config: dict, seed: int) -> torch.nn.Module:
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel(**config).eval()
    reinit_parameters(unet, seed)
    with torch.no_grad():
        # IF's diffusers fp32 UNet files were converted from fp16 originals, so every fp32 value is
        # exactly representable in fp16; keeping that makes the fp32 and fp16 files agree bit for bit
        # after widening, and one reference serves both.
        for param in unet.parameters():
            param.copy_(param.to(torch.float16).to(torch.float32))
    return unet


def write_unet(out_dir: pathlib.Path, unet: torch.nn.Module) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {n: t.detach().contiguous() for n, t in unet.state_dict().items()}
    save_file({n: t.to(torch.float32) for n, t in state.items()},
              str(out_dir / "diffusion_pytorch_model.safetensors"), metadata=ST_METADATA)
    save_file({n: t.to(torch.float16) for n, t in state.items()},
              str(out_dir / "diffusion_pytorch_model.fp16.safetensors"), metadata=ST_METADATA)
    config = dict(unet.config)
    config.pop("_use_default_values", None)  # a set: its order changes from run to run
    config["_class_name"] = "UNet2DConditionModel"
    import diffusers

    config["_diffusers_version"] = diffusers.__version__
    config.pop("_name_or_path", None)
    write_json(out_dir / "config.json", {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()})


def ddpm_config(**kwargs) -> dict:
    from diffusers import DDPMScheduler

    config = dict(DDPMScheduler(**kwargs).config)
    config.pop("_use_default_values", None)
    config["_class_name"] = "DDPMScheduler"
    import diffusers

    config["_diffusers_version"] = diffusers.__version__
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}


# ---- entry point ----

OTHER_OWNERS = ("config.yml", "pytorch_model.bin")  # written by original_layout.py


def build(repo_root: pathlib.Path) -> None:
    offline_env()
    torch.use_deterministic_algorithms(True)
    stage1 = repo_root / "fixtures" / "IF-I-tiny"
    stage2 = repo_root / "fixtures" / "IF-II-tiny"
    fresh_dir(stage1, keep=OTHER_OWNERS)
    fresh_dir(stage2, keep=OTHER_OWNERS)

    spiece = train_spiece()
    vocab_size = write_tokenizer(stage1 / "tokenizer", spiece)
    # Stage II ships without text_encoder/ and tokenizer/ (space): stage I's encoder feeds it, as the
    # diffusers IF docs do when they pass prompt_embeds from stage I to stage II.
    write_t5(stage1 / "text_encoder", build_t5(vocab_size))

    write_unet(stage1 / "unet", build_unet(UNET_I_CONFIG, SEED_UNET_I))
    write_json(stage1 / "scheduler" / "scheduler_config.json", SCHEDULER_I)
    write_json(stage1 / "model_index.json", {"_class_name": "IFPipeline", **MODEL_INDEX_COMMON})

    write_unet(stage2 / "unet", build_unet(UNET_II_CONFIG, SEED_UNET_II))
    # Stage II schedulers as diffusers' convert_if.py constructs them, saved with every current key.
    write_json(stage2 / "scheduler" / "scheduler_config.json", ddpm_config(
        variance_type="learned_range", beta_schedule="squaredcos_cap_v2", prediction_type="epsilon",
        thresholding=True, dynamic_thresholding_ratio=0.95, sample_max_value=1.0))
    write_json(stage2 / "image_noising_scheduler" / "scheduler_config.json",
               ddpm_config(beta_schedule="squaredcos_cap_v2"))
    write_json(stage2 / "model_index.json", {
        "_class_name": "IFSuperResolutionPipeline",
        **MODEL_INDEX_COMMON,
        "image_noising_scheduler": ["diffusers", "DDPMScheduler"],
        "text_encoder": [None, None],
        "tokenizer": [None, None],
    })
