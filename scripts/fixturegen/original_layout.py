"""Original-layout IF checkpoints (root `config.yml` + `pytorch_model.bin`) for the tiny fixture snapshots.

Outputs (owned here), for S in I, II:
  fixtures/IF-S-tiny/config.yml          original DeepFloyd `params:` (IF-FACTS §3.1 style)
  fixtures/IF-S-tiny/pytorch_model.bin   torch.save zip, fp16, original key names
  fixtures/IF-S-tiny/original_layout.json  which diffusers tensor each original tensor holds, and the
                                            forward-pass check of original vs diffusers model

How: the config.yml is derived from the snapshot's unet/config.json (inverse of diffusers'
convert_if.py config rules, with att_pool_heads = addition_embed_type_num_heads). The original model
is built with DeepFloyd's own `UNetModel` / `SuperResUNetModel` code (package deepfloyd-if, installed
with --no-deps into a scratch folder if not importable): its state_dict supplies the authoritative
original key names and shapes. Its weights are filled from the diffusers fp16 UNet by pairing the
ResBlocks and attention blocks of both models in forward order (not by index arithmetic, so this is an
independent check of the Swift mapping), and the two models are run on the same inputs in fp32: the
outputs must agree to summation-order precision or generation fails.
"""

from __future__ import annotations

import importlib
import json
import pathlib
import subprocess
import sys
import zipfile
import zlib

import torch
from safetensors.torch import load_file

from .common import scratch_dir, write_json

DEEPFLOYD_IF_VERSION = "1.0.1"
# Forward check (fp32 weights widened from fp16): relative L2 of original vs diffusers output. Only
# summation order and IF's 0.7071 vs diffusers' 1/1.4142271248762552 skip scale differ.
FORWARD_REL_L2_LIMIT = 1e-5
SEED_INPUTS = 4242

# Key order of IF-I-XL's published config.yml (IF-FACTS §3.1); stage II adds the last two.
CONFIG_KEY_ORDER = [
    "image_size", "model_channels", "num_res_blocks", "channel_mult", "attention_resolutions", "num_heads",
    "num_head_channels", "num_heads_upsample", "use_scale_shift_norm", "dropout", "resblock_updown",
    "encoder_dim", "encoder_channels", "in_channels", "out_channels", "activation", "att_pool_heads",
    "disable_self_attentions", "precision", "efficient_activation", "scale_skip_connection",
]

RESNET_RENAMES = [  # original child -> diffusers child (diffusers scripts/convert_if.py renew_resnet_paths)
    ("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("emb_layers.1", "time_emb_proj"),
    ("out_layers.0", "norm2"), ("out_layers.3", "conv2"), ("skip_connection", "conv_shortcut"),
]
ATTENTION_RENAMES = [("norm", "group_norm"), ("norm_encoder", "norm_cross"), ("proj_out", "to_out.0")]
TOP_RENAMES = [
    ("input_blocks.0.0", "conv_in"), ("time_embed.0", "time_embedding.linear_1"),
    ("time_embed.2", "time_embedding.linear_2"), ("encoder_proj", "encoder_hid_proj"),
    ("aug_proj.0", "class_embedding.linear_1"), ("aug_proj.2", "class_embedding.linear_2"),
    ("encoder_pooling.0", "add_embedding.norm1"), ("encoder_pooling.1", "add_embedding.pool"),
    ("encoder_pooling.2", "add_embedding.proj"), ("encoder_pooling.3", "add_embedding.norm2"),
    ("out.0", "conv_norm_out"), ("out.2", "conv_out"),
]


# ---- the original DeepFloyd code ----

def import_deepfloyd_unet():
    """deepfloyd_if.model.unet, installing deepfloyd-if (no dependencies) into a scratch folder if needed."""
    try:
        return importlib.import_module("deepfloyd_if.model.unet"), None
    except ImportError:
        pass
    scratch = scratch_dir()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", scratch.name,
                    f"deepfloyd-if=={DEEPFLOYD_IF_VERSION}"], check=True)
    sys.path.insert(0, scratch.name)
    return importlib.import_module("deepfloyd_if.model.unet"), scratch


# ---- config.yml from the diffusers config ----

def original_params(config: dict, stage: str) -> dict:
    channels = config["block_out_channels"]
    model_channels = channels[0]
    mult = [c // model_channels for c in channels]
    assert all(model_channels * m == c for m, c in zip(mult, channels)), channels
    time_embed_dim = config.get("time_embedding_dim") or 4 * model_channels
    assert time_embed_dim == model_channels * max(mult), "diffusers time embedding width is not mc x max(mult)"
    image_size = config["sample_size"]
    attention = [image_size // 2**level for level, kind in enumerate(config["down_block_types"])
                 if kind.startswith("SimpleCrossAttn")]
    layers = config["layers_per_block"]
    params = {
        "image_size": image_size,
        "model_channels": model_channels,
        "num_res_blocks": layers,
        "channel_mult": ",".join(str(m) for m in mult),
        "attention_resolutions": ",".join(str(r) for r in attention),
        "num_heads": 1,
        "num_head_channels": config["attention_head_dim"],
        "num_heads_upsample": -1,
        "use_scale_shift_norm": config["resnet_time_scale_shift"] == "scale_shift",
        "dropout": 0.0,
        "resblock_updown": True,
        "encoder_dim": config.get("encoder_hid_dim") or config["cross_attention_dim"],
        "encoder_channels": config["cross_attention_dim"],
        "in_channels": config["in_channels"],
        "out_channels": config["out_channels"],
        "activation": config["act_fn"],
        "att_pool_heads": config["addition_embed_type_num_heads"],
        "disable_self_attentions": False,
        "precision": "16",
    }
    if stage == "II":
        params["efficient_activation"] = bool(config["resnet_skip_time_act"])
        params["scale_skip_connection"] = config["resnet_out_scale_factor"] != 1.0
    return params


def yaml_text(params: dict) -> str:
    def scalar(key, value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + ", ".join(str(v) for v in value) + "]"
        if isinstance(value, str):
            return f'"{value}"'
        return str(value)
    lines = ["params:"] + [f"  {key}: {scalar(key, params[key])}" for key in CONFIG_KEY_ORDER if key in params]
    return "\n".join(lines) + "\n"


# ---- pairing the two models ----

def original_blocks(model):
    """(kind, module path) of every ResBlock / AttentionBlock of the original model in forward order."""
    out = []
    for name, module in model.named_modules():
        kind = type(module).__name__
        if kind in ("ResBlock", "AttentionBlock"):
            out.append(("resnet" if kind == "ResBlock" else "attention", name))
    return out  # named_modules order is registration order = forward order for input/middle/output blocks


def diffusers_blocks(config: dict):
    """(kind, module path) of every ResnetBlock2D / Attention of the diffusers UNet in forward order."""
    layers = config["layers_per_block"]
    levels = len(config["block_out_channels"])
    layers = layers if isinstance(layers, list) else [layers] * levels
    attention = [t.startswith("SimpleCrossAttn") for t in config["down_block_types"]]
    out = []
    for b in range(levels):
        for j in range(layers[b]):
            out.append(("resnet", f"down_blocks.{b}.resnets.{j}"))
            if attention[b]:
                out.append(("attention", f"down_blocks.{b}.attentions.{j}"))
        if b != levels - 1:
            out.append(("resnet", f"down_blocks.{b}.downsamplers.0"))
    out += [("resnet", "mid_block.resnets.0"), ("attention", "mid_block.attentions.0"), ("resnet", "mid_block.resnets.1")]
    for u in range(levels):
        level = levels - 1 - u
        for j in range(layers[level] + 1):
            out.append(("resnet", f"up_blocks.{u}.resnets.{j}"))
            if attention[level]:
                out.append(("attention", f"up_blocks.{u}.attentions.{j}"))
        if u != levels - 1:
            out.append(("resnet", f"up_blocks.{u}.upsamplers.0"))
    return out


def interleave_heads(parts: list[torch.Tensor], head_dim: int) -> torch.Tensor:
    """Inverse of the per-head split: rows [p0 head h | p1 head h | ...] for every head h."""
    chunks = [p.split(head_dim, dim=0) for p in parts]
    return torch.cat([c for head in zip(*chunks) for c in head], dim=0)


def invert(diffusers_sd: dict, config: dict, original_sd: dict, orig_blocks, diff_blocks):
    """Original state dict (names and shapes of `original_sd`) filled from the diffusers tensors.

    Returns (tensors, provenance) where provenance maps each original key to the diffusers keys it holds.
    """
    assert [k for k, _ in orig_blocks] == [k for k, _ in diff_blocks], "block sequences differ"
    head_dim = config["attention_head_dim"]
    out, provenance = {}, {}

    def put(key, value, sources):
        assert key in original_sd, f"no original key {key}"
        assert key not in out, f"{key} assigned twice"
        assert tuple(value.shape) == tuple(original_sd[key].shape), (key, value.shape, original_sd[key].shape)
        out[key] = value
        provenance[key] = sources

    def move(orig_prefix, diff_prefix):
        for suffix in ("weight", "bias"):
            name = f"{diff_prefix}.{suffix}"
            if name in diffusers_sd:
                value = diffusers_sd[name]
                target = original_sd.get(f"{orig_prefix}.{suffix}")
                if target is not None and target.dim() == value.dim() + 1:
                    value = value.unsqueeze(-1)  # Linear -> k=1 Conv1d
                put(f"{orig_prefix}.{suffix}", value, [name])

    for original, diffusers in TOP_RENAMES:
        if diffusers == "add_embedding.pool":
            for part in ("k_proj", "q_proj", "v_proj"):
                move(f"{original}.{part}", f"{diffusers}.{part}")
            put(f"{original}.positional_embedding", diffusers_sd[f"{diffusers}.positional_embedding"],
                [f"{diffusers}.positional_embedding"])
        else:
            move(original, diffusers)
    for (kind, orig), (_, diff) in zip(orig_blocks, diff_blocks):
        if kind == "resnet":
            for o, d in RESNET_RENAMES:
                move(f"{orig}.{o}", f"{diff}.{d}")
            continue
        for o, d in ATTENTION_RENAMES:
            move(f"{orig}.{o}", f"{diff}.{d}")
        targets = [t for t in ("to_q", "to_k", "to_v") if f"{diff}.{t}.weight" in diffusers_sd]
        for suffix in ("weight", "bias"):
            names = [f"{diff}.{t}.{suffix}" for t in targets]
            value = interleave_heads([diffusers_sd[n] for n in names], head_dim)
            put(f"{orig}.qkv.{suffix}", value.unsqueeze(-1) if suffix == "weight" else value, names)
            names = [f"{diff}.add_k_proj.{suffix}", f"{diff}.add_v_proj.{suffix}"]
            value = interleave_heads([diffusers_sd[n] for n in names], head_dim)
            put(f"{orig}.encoder_kv.{suffix}", value.unsqueeze(-1) if suffix == "weight" else value, names)
    missing = sorted(set(original_sd) - set(out))
    assert not missing, f"original keys not filled: {missing[:8]}"
    used = {n for sources in provenance.values() for n in sources}
    unused = sorted(set(diffusers_sd) - used)
    assert not unused, f"diffusers keys not used: {unused[:8]}"
    return out, provenance


# ---- forward check ----

@torch.no_grad()
def forward_check(original, diffusers_unet, config: dict, stage: str, unet_module) -> dict:
    from diffusers.models.attention_processor import AttnAddedKVProcessor

    diffusers_unet.set_attn_processor(AttnAddedKVProcessor())
    gen = torch.Generator().manual_seed(SEED_INPUTS)
    size = config["sample_size"]
    channels = config["in_channels"]
    text_dim = config.get("encoder_hid_dim") or config["cross_attention_dim"]
    sample = torch.randn(2, channels, size, size, generator=gen)
    text = torch.randn(2, 7, text_dim, generator=gen)
    timestep = torch.tensor([17, 613])
    if stage == "II":
        noise_level = torch.tensor([250, 250])
        mc = config["block_out_channels"][0]
        aug_emb = original.aug_proj(unet_module.timestep_embedding(noise_level, mc, dtype=torch.float32))
        # UNetModel.forward directly: SuperResUNetModel.forward would draw fresh augmentation noise.
        theirs = unet_module.UNetModel.forward(original, sample, timestep, text_emb=text, aug_emb=aug_emb)
        ours = diffusers_unet(sample, timestep, encoder_hidden_states=text, class_labels=noise_level).sample
    else:
        theirs = original(sample, timestep, text_emb=text)
        ours = diffusers_unet(sample, timestep, encoder_hidden_states=text).sample
    rel = float((theirs - ours).norm() / ours.norm())
    assert rel <= FORWARD_REL_L2_LIMIT, f"stage {stage}: original vs diffusers forward rel L2 {rel:.3e}"
    return {"inputs_seed": SEED_INPUTS, "batch": 2, "text_tokens": 7, "timesteps": [17, 613],
            "rel_l2": float(f"{rel:.3e}"), "max_abs_diff": float(f"{float((theirs - ours).abs().max()):.3e}"),
            "output_l2": float(f"{float(ours.norm()):.6e}"), "limit_rel_l2": FORWARD_REL_L2_LIMIT}


# ---- deterministic torch.save ----

def save_deterministic(tensors: dict, path: pathlib.Path) -> None:
    """torch.save, then replace the random `.data/serialization_id` record (same length, CRC fixed)."""
    torch.save(tensors, path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if i.filename.endswith(".data/serialization_id")]
    for info in infos:
        name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
            int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
        start = info.header_offset + 30 + name_len + extra_len
        assert info.compress_type == zipfile.ZIP_STORED
        fixed = b"0" * info.file_size
        data[start:start + info.file_size] = fixed
        crc = zlib.crc32(fixed).to_bytes(4, "little")
        data[info.header_offset + 14:info.header_offset + 18] = crc
        # the central directory entry of this file holds the CRC too
        central = data.rfind(b"PK\x01\x02" , 0)  # search each central header for the matching local offset
        pos = data.find(b"PK\x01\x02")
        while pos != -1:
            if int.from_bytes(data[pos + 42:pos + 46], "little") == info.header_offset:
                data[pos + 16:pos + 20] = crc
                break
            pos = data.find(b"PK\x01\x02", pos + 4)
        del central
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None


# ---- driver ----

def build_stage(repo_root: pathlib.Path, stage: str, unet_module) -> None:
    from diffusers import UNet2DConditionModel

    folder = repo_root / "fixtures" / f"IF-{stage}-tiny"
    config = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
    diffusers_sd = load_file(str(folder / "unet" / "diffusion_pytorch_model.fp16.safetensors"))
    params = original_params(config, stage)
    (folder / "config.yml").write_text(yaml_text(params), encoding="utf-8")

    build = dict(params, precision="32")  # fp32 modules for the forward check; the file stores fp16
    if stage == "II":
        original = unet_module.SuperResUNetModel(low_res_diffusion=None, **build).eval()
    else:
        original = unet_module.UNetModel(**build).eval()
    original_sd = original.state_dict()
    tensors, provenance = invert(diffusers_sd, config, original_sd, original_blocks(original), diffusers_blocks(config))
    ordered = {key: tensors[key].to(torch.float16).contiguous() for key in original_sd}

    original.load_state_dict({k: v.float() for k, v in ordered.items()}, strict=True)
    diffusers_unet = UNet2DConditionModel.from_config(config).eval()
    diffusers_unet.load_state_dict({k: v.float() for k, v in diffusers_sd.items()}, strict=True)
    check = forward_check(original, diffusers_unet, config, stage, unet_module)

    save_deterministic(ordered, folder / "pytorch_model.bin")
    write_json(folder / "original_layout.json", {
        "generator": "scripts/fixturegen/original_layout.py",
        "original_code": f"deepfloyd-if {DEEPFLOYD_IF_VERSION} deepfloyd_if.model.unet."
                         + ("SuperResUNetModel" if stage == "II" else "UNetModel"),
        "diffusers_equivalent": "unet/diffusion_pytorch_model.fp16.safetensors",
        "dtype": "F16",
        "tensor_count": len(ordered),
        "forward_check_fp32": check,
        "original_to_diffusers": provenance,
    })


def representable(config: dict) -> str | None:
    """Why the original UNetModel cannot hold this diffusers UNet, or None if it can."""
    hid = config.get("encoder_hid_dim")
    if hid is not None and hid == config["cross_attention_dim"]:
        return (f"encoder_hid_dim {hid} == cross_attention_dim: the original UNetModel has no encoder_proj "
                "when encoder_dim == encoder_channels, so diffusers' encoder_hid_proj has no original tensor")
    return None


def build(repo_root: pathlib.Path) -> None:
    torch.manual_seed(0)
    unet_module, scratch = import_deepfloyd_unet()
    try:
        for stage in ("I", "II"):
            folder = repo_root / "fixtures" / f"IF-{stage}-tiny"
            config = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
            reason = representable(config)
            if reason is not None:
                for name in ("config.yml", "pytorch_model.bin", "original_layout.json"):
                    (folder / name).unlink(missing_ok=True)
                print(f"original_layout: IF-{stage}-tiny skipped: {reason}", file=sys.stderr)
                continue
            build_stage(repo_root, stage, unet_module)
    finally:
        if scratch is not None:
            scratch.cleanup()
