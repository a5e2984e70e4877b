"""Tiny random-weight diffusers pipelines, built from config in code and saved as local model folders.

The AI backends load models from a folder with `from_pretrained(use_safetensors=True, local_files_only=True)`.
These builders make such folders without any download: every component (tokenizers included) is constructed
from an in-code config, seeded so that the same builder always writes the same weights. The components keep
the real models' compression ratios (so the pipelines check frame counts and sizes as they do for the real
models) but have tiny channel counts and one or two layers: a call of a few steps at 64×64 takes well under
a second on two CPU cores. The outputs are noise-like: these models test plumbing, not pictures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderKLCogVideoX,
    AutoencoderKLLTXVideo,
    AutoencoderKLTemporalDecoder,
    AutoencoderKLWan,
    CogVideoXDDIMScheduler,
    CogVideoXImageToVideoPipeline,
    CogVideoXTransformer3DModel,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    LTXConditionPipeline,
    LTXImageToVideoPipeline,
    LTXVideoTransformer3DModel,
    PNDMScheduler,
    StableDiffusionPipeline,
    StableVideoDiffusionPipeline,
    UNet2DConditionModel,
    UNetSpatioTemporalConditionModel,
    WanImageToVideoPipeline,
    WanTransformer3DModel,
)
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    ByT5Tokenizer,
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
    T5Config,
    T5EncoderModel,
    UMT5Config,
    UMT5EncoderModel,
)

#: ByT5 ids: 3 specials, 256 bytes and 125 sentinel ids; T5-style encoders need an embedding row for each.
_BYT5_VOCAB_SIZE = 384
_WAN_ENCODER_IMAGE_SIZE = 32
_WAN_ENCODER_PATCH = 8
#: Width of every tiny text encoder's output, which the denoisers' caption/cross-attention inputs must match.
_TEXT_DIM = 32


def _save(pipe: Any, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def _clip_tokenizer() -> CLIPTokenizer:
    """Byte-level BPE without merges: each byte is a token, so any prompt encodes without <unk>."""
    specials = ["<|startoftext|>", "<|endoftext|>"]
    # CLIP's BPE marks the last symbol of each word with "</w>", so each byte needs both spellings.
    symbols = sorted(ByteLevel.alphabet())
    tokens = specials + symbols + [symbol + "</w>" for symbol in symbols]
    vocab = {token: index for index, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _clip_text_encoder(vocab_size: int) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=_TEXT_DIM,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    return CLIPTextModel(config)


def _t5_encoder() -> T5EncoderModel:
    config = T5Config(
        vocab_size=_BYT5_VOCAB_SIZE,
        d_model=_TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return T5EncoderModel(config)


def _umt5_encoder() -> UMT5EncoderModel:
    config = UMT5Config(
        vocab_size=_BYT5_VOCAB_SIZE,
        d_model=_TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return UMT5EncoderModel(config)


def save_tiny_svd(folder: Path) -> Path:
    """Write a tiny StableVideoDiffusionPipeline to `folder` (created if missing) and return it.

    The VAE downsamples 8× like the real one, so height and width must be multiples of 8 (pixels).
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        unet = UNetSpatioTemporalConditionModel(
            sample_size=8,
            in_channels=8,
            out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            # Its resnets hard-code 32 norm groups, so 32 channels is the floor.
            block_out_channels=(32, 32),
            layers_per_block=1,
            cross_attention_dim=32,
            num_attention_heads=2,
            addition_time_embed_dim=8,
            # fps, motion bucket and noise strength are each embedded at addition_time_embed_dim.
            projection_class_embeddings_input_dim=24,
        )
        vae = AutoencoderKLTemporalDecoder(
            down_block_types=("DownEncoderBlock2D",) * 4,
            block_out_channels=(32, 32, 32, 32),
            layers_per_block=1,
            latent_channels=4,
        )
        # The pipeline resizes its input to 224×224 itself before the feature extractor: take that size.
        image_encoder = CLIPVisionModelWithProjection(
            CLIPVisionConfig(
                image_size=224,
                patch_size=32,
                hidden_size=32,
                projection_dim=32,
                intermediate_size=64,
                num_hidden_layers=1,
                num_attention_heads=2,
            )
        )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    pipe = StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(size=224, crop_size=224),
    )
    return _save(pipe, folder)


def save_tiny_sd(folder: Path) -> Path:
    """Write a tiny StableDiffusionPipeline (text-to-image; img2img via `from_pipe`) to `folder`.

    The VAE downsamples 8× like the real one, so height and width must be multiples of 8 (pixels).
    """
    tokenizer = _clip_tokenizer()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            cross_attention_dim=_TEXT_DIM,
            attention_head_dim=2,
        )
        vae = AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            norm_num_groups=4,
            latent_channels=4,
        )
        text_encoder = _clip_text_encoder(len(tokenizer))
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        # Stable Diffusion 1.x's own scheduler settings (the defaults trigger a deprecation warning on load).
        scheduler=PNDMScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            skip_prk_steps=True,
            steps_offset=1,
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return _save(pipe, folder)


def _ltx_components() -> dict[str, Any]:
    """LTX-Video parts with the real VAE's 32× spatial and 8× temporal compression."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=1,
            caption_channels=_TEXT_DIM,
        )
        vae = AutoencoderKLLTXVideo(
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True, False),
            patch_size=4,
        )
        text_encoder = _t5_encoder()
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "text_encoder": text_encoder,
        "tokenizer": ByT5Tokenizer(),
    }


def save_tiny_ltx(folder: Path) -> Path:
    """Write a tiny LTXImageToVideoPipeline to `folder`: sizes in multiples of 32 px, 8n+1 frames."""
    return _save(LTXImageToVideoPipeline(**_ltx_components()), folder)


def save_tiny_ltx_condition(folder: Path) -> Path:
    """Write a tiny LTXConditionPipeline (first and last frame conditions) to `folder`; same rules as LTX."""
    return _save(LTXConditionPipeline(**_ltx_components()), folder)


def save_tiny_wan(folder: Path, *, first_last_frame: bool = False) -> Path:
    """Write a tiny WanImageToVideoPipeline (Wan 2.1 style, with a CLIP image encoder) to `folder`.

    Sizes are multiples of 16 px (8× VAE, 2×2 patches) and frame counts 4n+1. As with the real checkpoints,
    a plain image-to-video model takes only a first frame and fails when given `last_image`; with
    `first_last_frame` it is built like Wan2.1-FLF2V instead, which needs `last_image` on every call.
    """
    encoder_patches = (_WAN_ENCODER_IMAGE_SIZE // _WAN_ENCODER_PATCH) ** 2
    with torch.random.fork_rng():
        torch.manual_seed(0)
        vae = AutoencoderKLWan(
            base_dim=4,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        image_encoder = CLIPVisionModel(
            CLIPVisionConfig(
                image_size=_WAN_ENCODER_IMAGE_SIZE,
                patch_size=_WAN_ENCODER_PATCH,
                hidden_size=8,
                intermediate_size=16,
                num_hidden_layers=2,
                num_attention_heads=2,
            )
        )
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            # Noise latents, the first frame's latents and the 4-channel frame mask, stacked.
            in_channels=36,
            out_channels=16,
            text_dim=_TEXT_DIM,
            freq_dim=32,
            ffn_dim=32,
            num_layers=1,
            image_dim=8,  # the image encoder's hidden size
            # FLF2V models give the two images' encoder tokens (patches + class token each) learned positions.
            pos_embed_seq_len=2 * (encoder_patches + 1) if first_last_frame else None,
        )
        text_encoder = _umt5_encoder()
    pipe = WanImageToVideoPipeline(
        tokenizer=ByT5Tokenizer(),
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        image_processor=CLIPImageProcessor(size=_WAN_ENCODER_IMAGE_SIZE, crop_size=_WAN_ENCODER_IMAGE_SIZE),
        image_encoder=image_encoder,
        transformer=transformer,
    )
    return _save(pipe, folder)


def save_tiny_cogvideox(folder: Path) -> Path:
    """Write a tiny CogVideoXImageToVideoPipeline (CogVideoX 1.0 VAE, RoPE only) to `folder`.

    Sizes are multiples of 16 px. Frame counts are 8n+1: frames map 4:1 to latent frames, and the VAE
    decodes an odd count of latent frames to 4k+1 frames but an even one to 4k (13 frames come back as 16).
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        transformer = CogVideoXTransformer3DModel(
            # RoPE splits each head across time, height and width, so the head width must be a multiple of 16.
            num_attention_heads=2,
            attention_head_dim=16,
            # The noise latents and the first frame's latents, stacked.
            in_channels=8,
            out_channels=4,
            time_embed_dim=8,
            text_embed_dim=_TEXT_DIM,
            num_layers=1,
            sample_width=8,
            sample_height=8,
            sample_frames=9,
            patch_size=2,
            use_rotary_positional_embeddings=True,
        )
        vae = AutoencoderKLCogVideoX(
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            sample_height=64,
            sample_width=64,
        )
        text_encoder = _t5_encoder()
    pipe = CogVideoXImageToVideoPipeline(
        tokenizer=ByT5Tokenizer(),
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
    )
    return _save(pipe, folder)
