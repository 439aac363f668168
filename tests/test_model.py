import pytest
import torch

from torch.nn import functional as F

from ssae.core.config import ModelConfig
from ssae.method.model import CCM, SDCCCM, count_flops, count_params, init_weights
from ssae.method.training import loss_fn


@pytest.mark.parametrize("gates", [True, False])
@pytest.mark.parametrize("size", [16, 32, 48])
def test_output_shape(gates, size):
    m = SDCCCM(ModelConfig(widths=(8, 16, 16), sdc_blocks=1, dilations=(1, 2), gates=gates))
    y = m(torch.rand(2, 3, size, size))
    assert y.shape == (2, 3, size, size)
    assert torch.isfinite(y).all()


def test_gates_add_parameters_and_are_convex():
    cfg = dict(widths=(8, 16), sdc_blocks=1, dilations=(1,))
    assert count_params(SDCCCM(ModelConfig(**cfg, gates=True))) > count_params(SDCCCM(ModelConfig(**cfg, gates=False)))
    torch.manual_seed(0)
    ccm = CCM(4)
    e, d = torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        out = ccm(e, d)
        # per element between the two inputs (a sum, a product or a plain conv would leave it)
        assert ((out >= torch.minimum(e, d) - 1e-6) & (out <= torch.maximum(e, d) + 1e-6)).all()
        assert not torch.allclose(out, e) and not torch.allclose(out, d)  # a real mix
        ccm.gate.weight.zero_()
        ccm.gate.bias.fill_(30.0)  # gate open: the encoder features
        assert torch.allclose(ccm(e, d), e, atol=1e-6)
        ccm.gate.bias.fill_(-30.0)  # gate shut: the decoder features
        assert torch.allclose(ccm(e, d), d, atol=1e-6)


def test_one_batch_overfit():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    m = SDCCCM(ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1, 2)))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss = torch.mean((m(x) - x) ** 2)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first


def test_loss_weights_corrupted_pixels():
    r, c = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    m = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert loss_fn(r, c, m, 0.0).item() == pytest.approx(1.0)
    assert loss_fn(r, c, m, 4.0).item() == pytest.approx((5 + 1 + 1 + 1) / 4)


def test_flops_follow_the_architecture():
    cfg = ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1, 2))
    m = SDCCCM(cfg)
    f32 = count_flops(m, 32)
    assert count_flops(m, 64) == 4 * f32  # a fully convolutional net: FLOPs scale with pixels
    # the stem's first conv alone: 2 * (3 * 3 * 3) * 8 multiply-adds per pixel
    assert f32 > 2 * 27 * 8 * 32 * 32
    assert count_flops(SDCCCM(ModelConfig(widths=(8, 16), sdc_blocks=0, dilations=(1, 2))), 32) < f32
    assert m.training  # counting leaves the mode alone


def test_image_gate_copies_the_input_when_open():
    m = SDCCCM(ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1,), image_gate=True)).eval()
    with torch.no_grad():
        m.image_gate.weight.zero_()
        m.image_gate.bias.fill_(30.0)  # sigmoid(30) = 1 - 1e-13: the gate passes the input
        x = torch.rand(1, 3, 16, 16)
        assert torch.allclose(m(x), x, atol=1e-6)
        m.image_gate.bias.fill_(-30.0)  # closed: the decoded image
        assert not torch.allclose(m(x), x, atol=1e-3)
    assert SDCCCM(ModelConfig(widths=(8, 16), image_gate=False)).image_gate is None


def test_init_weights_depend_on_the_generator_only():
    cfg = ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1, 2))
    torch.manual_seed(0)
    reference = SDCCCM(cfg).state_dict()  # torch's default init from the global generator
    init = lambda seed: init_weights(SDCCCM(cfg), torch.Generator().manual_seed(seed)).state_dict()  # noqa: E731
    torch.manual_seed(99)  # whatever the global state: the generator decides
    a = init(0)
    assert all(torch.equal(a[k], reference[k]) for k in a)
    assert not all(torch.equal(a[k], v) for k, v in init(1).items())


def test_pad_reconstructs_the_mirrored_image_and_crops_it_back():
    cfg = dict(widths=(8, 16), sdc_blocks=1, dilations=(1, 2))
    padded = init_weights(SDCCCM(ModelConfig(**cfg, pad=4)), torch.Generator().manual_seed(0)).eval()
    plain = init_weights(SDCCCM(ModelConfig(**cfg)), torch.Generator().manual_seed(0)).eval()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        y = padded(x)
        mirrored = plain(F.pad(x, (4, 4, 4, 4), mode="reflect"))  # the 24-px image the pad model sees
        assert y.shape == x.shape
        assert torch.equal(y, mirrored[:, :, 4:-4, 4:-4])
        # the border rows now see context beyond the frame: they differ from the unpadded model's
        assert not torch.allclose(y[:, :, 0], plain(x)[:, :, 0], atol=1e-4)
    assert count_flops(padded, 16) == count_flops(plain, 24)  # the margin is paid for


@pytest.mark.parametrize("image_gate", [True, False])
def test_a_greyscale_image_is_reconstructed_in_grey_and_a_colour_one_in_colour(image_gate):
    m = init_weights(
        SDCCCM(ModelConfig(widths=(8, 16), sdc_blocks=1, dilations=(1,), image_gate=image_gate)),
        torch.Generator().manual_seed(0),
    ).eval()
    grey = torch.rand(1, 1, 16, 16).expand(1, 3, 16, 16)
    colour = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        both = m(torch.cat([grey, colour]))  # per image, in one batch
        assert torch.equal(both[0, 0], both[0, 1]) and torch.equal(both[0, 0], both[0, 2])
        assert (both[1, 0] - both[1, 1]).abs().max() > 1e-3  # colour keeps its channels apart
        assert torch.allclose(both[1:], m(colour), atol=1e-5)  # the grey image does not touch it
