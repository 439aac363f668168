"""SDC-CCM autoencoder (after Bauer, Nakajima & Müller).

An encoder of strided convolutions, a bottleneck of stacked dilated-convolution (SDC)
blocks, and a decoder whose skip connections pass through convex-combination modules
(CCM): ``g * e + (1 - g) * d`` with ``g = sigmoid(conv([e, d]))``. The gate lets the
decoder ignore encoder features of an irregular region and fill it from context instead.
Widths, depth, SDC blocks and dilations are ``ModelConfig`` params; the paper does not give
exact values, ours are documented in params.yaml.

Our additions, each a param or documented choice: an image-level CCM (``image_gate``) that
mixes the input and the decoded image per pixel, so copying normal content is trivial and
training concentrates on where to stop copying (on 25 CPU epochs of grass it cut the error on
normal pixels 4x); BatchNorm after each convolution; a greyscale input's reconstruction is
grey (the mean of the decoded channels; otherwise colour left over from training shows up as error
on grey categories); replicate padding (zero padding left
bright artefacts at the borders, where the image score, the map's maximum, picked them up);
``pad``: the input mirrored outwards by a margin and the output cropped back, in training and at
inference alike, so that a border pixel is reconstructed from context on all sides like an
interior one (without it, the error in the outermost pixels of whole-frame textures is 3-6x the
interior's and sets the image score; a margin added at inference only broke an aligned object;
docs/accuracy.md section 5).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ssae.core.config import ModelConfig


def _conv(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    # BatchNorm: at the same cost, it halved the error left in corrupted regions after
    # 40 CPU epochs in our runs (0.0091 -> 0.0046 MSE on brick)
    return nn.Sequential(
        nn.Conv2d(
            c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False, padding_mode="replicate"
        ),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.1, inplace=True),
    )


def greyscale(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, 1) bool: which images of ``x`` (B, 3, H, W) have three equal channels everywhere."""
    return (x.amax(1) == x.amin(1)).flatten(1).all(1)[:, None, None, None]


class SDCBlock(nn.Module):
    """Parallel 3x3 convolutions with several dilations, concatenated, fused 1x1, residual."""

    def __init__(self, channels: int, dilations: tuple[int, ...]):
        super().__init__()
        branch = max(channels // len(dilations), 8)
        self.branches = nn.ModuleList(_conv(channels, branch, dilation=d) for d in dilations)
        self.fuse = nn.Conv2d(branch * len(dilations), channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) -> (B, C, h, w)
        y = torch.cat([b(x) for b in self.branches], dim=1)
        return F.leaky_relu(x + self.fuse(y), 0.1)


class CCM(nn.Module):
    """Convex combination of encoder skip ``e`` and decoder features ``d`` with a learned gate."""

    def __init__(self, channels: int):
        super().__init__()
        self.gate = nn.Conv2d(2 * channels, channels, 3, padding=1)

    def forward(self, e: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.gate(torch.cat([e, d], dim=1)))  # (B, C, h, w) in (0, 1)
        return g * e + (1 - g) * d


class Up(nn.Module):
    """Upsample x2, project to the skip's width, merge the skip (gated or added), refine."""

    def __init__(self, c_in: int, c_out: int, gated: bool):
        super().__init__()
        self.proj = _conv(c_in, c_out)
        self.merge = CCM(c_out) if gated else None
        self.refine = _conv(c_out, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        d = self.proj(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        d = self.merge(skip, d) if self.merge is not None else skip + d
        return self.refine(d)


class SDCCCM(nn.Module):
    """(B, 3, H, W) float in [0, 1] -> reconstruction (B, 3, H, W); H + 2 pad, W + 2 pad divisible
    by 2**(L-1)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.widths
        self.stem = nn.Sequential(_conv(3, w[0]), _conv(w[0], w[0]))
        self.down = nn.ModuleList(
            nn.Sequential(_conv(w[i], w[i + 1], stride=2), _conv(w[i + 1], w[i + 1])) for i in range(len(w) - 1)
        )
        self.bottleneck = nn.Sequential(*(SDCBlock(w[-1], cfg.dilations) for _ in range(cfg.sdc_blocks)))
        self.up = nn.ModuleList(Up(w[i + 1], w[i], cfg.gates) for i in reversed(range(len(w) - 1)))
        self.head = nn.Conv2d(w[0], 3, 3, padding=1)
        # an image-level CCM: recon = g * x + (1 - g) * decoded, one gate per pixel
        self.image_gate = nn.Conv2d(6, 1, 3, padding=1) if cfg.image_gate else None
        self.pad = cfg.pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            p = self.pad
            return self._forward(F.pad(x, (p, p, p, p), mode="reflect"))[:, :, p:-p, p:-p]
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)  # (B, w0, H, W)
        skips = [h]
        for down in self.down:
            h = down(h)  # halves H, W per level
            skips.append(h)
        h = self.bottleneck(skips.pop())  # (B, w[-1], H / 2**(L-1), W / 2**(L-1))
        for up in self.up:
            h = up(h, skips.pop())
        decoded = self.head(h)  # (B, 3, H, W)
        # a greyscale input is reconstructed in grey: nothing in it can call for colour
        decoded = torch.where(greyscale(x), decoded.mean(1, keepdim=True).expand_as(decoded), decoded)
        if self.image_gate is None:
            return decoded
        g = torch.sigmoid(self.image_gate(torch.cat([x, decoded], dim=1)))  # (B, 1, H, W)
        return g * x + (1 - g) * decoded


def init_weights(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw every convolution's weights and bias from ``generator`` (torch's default
    initialisation, in module order) and reset every BatchNorm; return ``model``.

    ``SDCCCM(cfg)`` draws its initial weights from torch's global generator; this makes them a
    function of ``generator`` alone (identical to the global generator seeded the same way).
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):  # as nn.Conv2d.reset_parameters
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    bound = 1 / math.sqrt(m.weight[0].numel())  # 1 / sqrt(fan_in)
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, size: int) -> int:
    """FLOPs of one forward pass on a (1, 3, size, size) image, counted by torch's
    ``FlopCounterMode``: 2 per multiply-add of convolutions and matmuls (the element-wise work of
    norms, activations and upsampling is not counted, as is usual)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, size, size, device=next(model.parameters()).device)
    training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(training)
    return int(counter.get_total_flops())
