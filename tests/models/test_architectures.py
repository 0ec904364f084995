"""Architecture facts: ResNet-15 layer count, ViT tokens, EfficientNet table, GNN k-NN and invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.models import count_parameters, create_model
from e2e_coffea.models.efficientnet_b0 import B0_STAGES, MBConv
from e2e_coffea.models.particle_gnn import knn_indices


def test_resnet15_has_15_convolutions_and_one_strided_shortcut() -> None:
    model = create_model("resnet15", 8)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    main = [c for c in convs if c.kernel_size != (1, 1)]
    shortcuts = [c for c in convs if c.kernel_size == (1, 1)]
    assert len(main) == 15
    assert main[0].kernel_size == (7, 7)
    assert main[0].out_channels == 16
    assert [c.out_channels for c in main[1:]] == [16] * 6 + [32] * 8
    assert len(shortcuts) == 1
    assert shortcuts[0].stride == (2, 2)
    assert (shortcuts[0].in_channels, shortcuts[0].out_channels) == (16, 32)
    assert isinstance(model.pool, nn.AdaptiveMaxPool2d)


def test_resnet15_parameter_count_matches_hand_count() -> None:
    c = 8
    conv = lambda i, o, k: i * o * k * k + o  # noqa: E731
    want = (
        conv(c, 16, 7)
        + 3 * 2 * conv(16, 16, 3)
        + conv(16, 32, 3)
        + conv(32, 32, 3)
        + conv(16, 32, 1)
        + 3 * 2 * conv(32, 32, 3)
        + (32 + 2) * 1
        + 1  # linear head on 32 pooled maps + ieta, iphi
    )
    assert count_parameters(create_model("resnet15", c, n_scalars=2)) == want


def test_resnet15_global_max_pool_is_translation_tolerant() -> None:
    # a single hot pixel far from the border: moving it must not change the max-pooled score
    model = create_model("resnet15", 1).eval()
    a, b = torch.zeros(1, 1, 64, 64), torch.zeros(1, 1, 64, 64)
    a[0, 0, 20, 20] = b[0, 0, 36, 36] = 1.0  # shift by 16 = 2 x total stride
    with torch.no_grad():
        torch.testing.assert_close(model(a), model(b))


def test_vit_tokens_are_hcal_towers() -> None:
    model = create_model("vit", 3, depth=1)
    assert model.patch_size == 5
    assert model.grid == (25, 25)
    assert model.pos.shape == (1, 1 + 625, 192)
    small = create_model("vit", 3, img_size=32, depth=1)
    assert small.patch_size == 4
    assert small.grid == (8, 8)
    assert create_model("vit_small", 3, depth=1).pos.shape[-1] == 384


def test_vit_refuses_bad_sizes() -> None:
    with pytest.raises(BadInputError, match="unknown ViT size 'huge'"):
        create_model("vit", 3, size="huge")
    with pytest.raises(BadInputError, match="not divisible"):
        create_model("vit", 3, dim=100, heads=3)
    with pytest.raises(BadInputError, match="smaller than one"):
        create_model("vit", 3, depth=1, img_size=32)(torch.zeros(1, 3, 3, 3))


def test_efficientnet_b0_follows_the_stage_table() -> None:
    model = create_model("efficientnet_b0", 3)
    blocks = [m for m in model.modules() if isinstance(m, MBConv)]
    assert len(blocks) == sum(r for _, _, r, _, _ in B0_STAGES) == 16
    assert blocks[-1].project[0].out_channels == 320
    assert 3.9e6 < count_parameters(model) < 4.1e6  # B0 is ~4.0M without the 1000-class head
    small = create_model("efficientnet_b0", 3, width_mult=0.25, depth_mult=0.34)
    assert count_parameters(small) < 0.3e6


def _knn_reference(coords: np.ndarray, mask: np.ndarray, k: int) -> list[list[set[int]]]:
    out = []
    for b in range(coords.shape[0]):
        rows = []
        for i in range(coords.shape[1]):
            d = [
                (float(np.sum((coords[b, i] - coords[b, j]) ** 2)), j)
                for j in range(coords.shape[1])
                if j != i and mask[b, j]
            ]
            rows.append({j for _, j in sorted(d)[:k]})
        out.append(rows)
    return out


def test_knn_matches_brute_force_and_skips_padding() -> None:
    rng = np.random.default_rng(3)
    coords = rng.normal(size=(3, 20, 2)).astype(np.float32)
    mask = rng.random((3, 20)) > 0.3
    k = 4
    idx = knn_indices(torch.from_numpy(coords), torch.from_numpy(mask), k).numpy()
    ref = _knn_reference(coords, mask, k)
    for b in range(3):
        for i in range(20):
            assert set(idx[b, i].tolist()) == ref[b][i]


def _gnn() -> nn.Module:
    torch.manual_seed(0)
    return create_model("particle_gnn", 4, k=4).eval()


def test_gnn_is_permutation_invariant() -> None:
    model = _gnn()
    x = torch.rand(2, 16, 4)
    perm = torch.randperm(16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x[:, perm]), rtol=1e-5, atol=1e-5)


def test_gnn_ignores_padding() -> None:
    model = _gnn()
    x = torch.rand(2, 10, 4)
    padded = torch.cat([x, torch.zeros(2, 7, 4)], 1)
    explicit = torch.cat([x, torch.rand(2, 7, 4)], 1)  # garbage behind an explicit mask
    mask = torch.cat([torch.ones(2, 10), torch.zeros(2, 7)], 1).bool()
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(model(padded), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model(explicit, mask=mask), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(BadInputError, match="mask must have shape"):
        model(x, mask=torch.ones(2, 3).bool())
