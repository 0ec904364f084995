"""Point-cloud models: padding never matters (eval and training), order of real points
does not matter, ONNX agrees with torch on padded batches, every head works.

Each invariance check returns the largest deviation so that the same check can be run
on a deliberately broken model (a batch norm that counts padded points, as
``particle_gnn`` did before :class:`MaskedBatchNorm`) and shown to fail there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from e2e_coffea.export import Contract, export_onnx, load_contract, onnx_outputs
from e2e_coffea.frames import FEATURES, PointCloudSpec
from e2e_coffea.models import MaskedBatchNorm, create_model, list_models, masked_mean
from e2e_coffea.models.point_transformer import masked_attention

POINT_MODELS = list_models("points")
NF = len(FEATURES)
KIND0 = FEATURES.index("is_ecal")
TOL = 1e-5


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def build(name: str, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    kw = {"dropout": 0.0, **kw}
    return create_model(name, NF, int(kw.pop("n_outputs", 1)), **kw)  # type: ignore[call-overload]


def jets(counts: list[int], n_max: int, seed: int = 0) -> torch.Tensor:
    """Hit-like clouds: random deta/dphi/log_e/d0/dz, one kind flag per real point, zero padding."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(counts), n_max, NF)
    for j, n in enumerate(counts):
        x[j, :n, :3] = torch.randn(n, 3, generator=g) * torch.tensor([0.2, 0.2, 1.0])
        x[j, :n, -2:] = torch.randn(n, 2, generator=g)
        kind = torch.randint(0, NF - 5, (n,), generator=g)
        x[j, torch.arange(n), KIND0 + kind] = 1.0
    return x


def pad(x: torch.Tensor, n_max: int) -> torch.Tensor:
    return torch.cat([x, x.new_zeros(x.shape[0], n_max - x.shape[1], x.shape[2])], 1)


class LeakyBatchNorm(MaskedBatchNorm):
    """Reference of the old behaviour: batch statistics over all N points, padding included."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return super().forward(x, torch.ones_like(mask)) * mask.unsqueeze(-1).to(x.dtype)


def make_leaky(model: torch.nn.Module) -> torch.nn.Module:
    for m in model.modules():
        if isinstance(m, MaskedBatchNorm):
            m.__class__ = LeakyBatchNorm
    return model


COUNTS = [10, 3, 17, 1, 6]


def eval_padding_deviation(name: str) -> float:
    model = build(name).eval()
    x = jets(COUNTS, 32)
    with torch.no_grad():
        want = model(x)
        outs = [model(pad(x, n)) for n in (64, 128)]
        real = (x != 0).any(-1)
        garbage = torch.where(real.unsqueeze(-1), x, torch.rand_like(x) * 5)  # junk behind a mask
        outs.append(model(garbage, mask=real))
    assert torch.isfinite(want).all()
    return max(float((o - want).abs().max()) for o in outs)


def train_padding_deviation(name: str, leaky: bool = False) -> float:
    """One SGD step on the same jets padded to 32 and to 96 points: compare train-mode
    outputs, every running statistic and every weight afterwards, and eval outputs."""
    x = jets(COUNTS, 32, seed=1)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0]).unsqueeze(1)
    results = []
    for n in (32, 96):
        model = build(name)
        if leaky:
            make_leaky(model)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        out = model(pad(x, n))
        F.binary_cross_entropy_with_logits(out, y).backward()
        opt.step()
        with torch.no_grad():
            after = model.eval()(pad(x, n))
        results.append((out.detach(), model.state_dict(), after))
    (o1, s1, e1), (o2, s2, e2) = results
    devs = [float((o1 - o2).abs().max()), float((e1 - e2).abs().max())]
    devs += [float((s1[k].float() - s2[k].float()).abs().max()) for k in s1]
    return max(devs)


@pytest.mark.parametrize("name", POINT_MODELS)
def test_padding_does_not_change_the_score(name: str) -> None:
    assert eval_padding_deviation(name) < TOL


@pytest.mark.parametrize("name", POINT_MODELS)
def test_training_statistics_ignore_padding(name: str) -> None:
    assert train_padding_deviation(name) < TOL


@pytest.mark.parametrize("name", POINT_MODELS)
def test_padding_check_catches_a_leaky_batch_norm(name: str) -> None:
    assert train_padding_deviation(name, leaky=True) > 1e-3


@pytest.mark.parametrize("name", POINT_MODELS)
def test_real_points_can_come_in_any_order(name: str) -> None:
    model = build(name).eval()
    assert model.permutation_invariant
    x = jets(COUNTS, 24, seed=2)
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(5))  # mixes in padding
    changed = x.clone()
    changed[0, :5, :3] += 1.0
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(model(x[:, perm]), want, rtol=0, atol=TOL)
        assert float((model(changed)[0] - want[0]).abs()) > 1e-4  # the check can see changes


@pytest.mark.parametrize("name", POINT_MODELS)
def test_empty_and_single_point_jets_are_finite(name: str) -> None:
    model = build(name).eval()
    with torch.no_grad():
        out = model(jets([0, 1, 2], 16))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", POINT_MODELS)
@pytest.mark.parametrize(("task", "n_outputs"), [("classification", 3), ("regression", 2)])
def test_heads_on_padded_batches(name: str, task: str, n_outputs: int) -> None:
    model = build(name, task=task, n_outputs=n_outputs, n_scalars=2).train()
    x, s = jets(COUNTS, 32), torch.randn(len(COUNTS), 2)
    out = model(x, s)
    assert out.shape == (len(COUNTS), n_outputs)
    if task == "classification":
        loss = F.cross_entropy(out, torch.tensor([0, 1, 2, 1, 0]))
    else:
        loss = F.mse_loss(out, torch.randn(len(COUNTS), n_outputs))
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert sum(float(g.abs().sum()) for g in grads.values()) > 0  # type: ignore[union-attr]
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(pad(x, 80), s), model(x, s), rtol=0, atol=TOL)


@pytest.mark.parametrize("name", POINT_MODELS)
def test_no_gradient_reaches_padded_points(name: str) -> None:
    model = build(name).train()
    x = jets(COUNTS, 32).requires_grad_(True)
    model(x, mask=(x != 0).any(-1)).sum().backward()
    real = (x != 0).any(-1)
    assert x.grad is not None
    assert float(x.grad[~real].abs().max()) == 0.0
    assert float(x.grad[real].abs().max()) > 0.0


@pytest.mark.parametrize("name", POINT_MODELS)
def test_onnx_matches_torch_on_padded_batches(name: str, tmp_path: Path) -> None:
    model = build(name, n_scalars=2)
    spec = PointCloudSpec(max_points=32, order="dr")
    contract = Contract(
        task="classification",
        model_name=name,
        channels=FEATURES,
        frame_size=(32, NF),
        class_names=("qcd", "tau"),
        scalar_inputs=("jet_pt", "jet_eta"),
        input_kind="points",
        points=spec.to_dict(),
    )
    report = export_onnx(model, tmp_path / f"{name}.onnx", contract, (2, 32, NF))
    assert PointCloudSpec.from_dict(load_contract(report.path).points or {}) == spec
    x = jets([0, 1, 5, 20, 32, 9, 14], 32, seed=3)  # empty, single, full jets; batch 7
    s = torch.randn(len(x), 2, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        want = model.eval()(x, s).numpy()
    got = onnx_outputs(report.path, x.numpy(), s.numpy())
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    assert np.ptp(want) > 1e-3  # not a constant model: the comparison means something


def test_masked_batch_norm_equals_batch_norm_on_the_real_points() -> None:
    g = torch.Generator().manual_seed(0)
    masked, ref = MaskedBatchNorm(5), torch.nn.BatchNorm1d(5)
    with torch.no_grad():
        for bn in (masked, ref):
            bn.weight.copy_(torch.linspace(0.5, 2.0, 5))
            bn.bias.copy_(torch.linspace(-1.0, 1.0, 5))
    for _ in range(3):
        x = torch.randn(4, 9, 5, generator=g) * 3 + 1
        mask = torch.rand(4, 9, generator=g) > 0.4
        out = masked(x, mask).detach()
        torch.testing.assert_close(out[mask], ref(x[mask]).detach())
        assert float(out[~mask].abs().max()) == 0.0
    for key in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(masked, key), getattr(ref, key))
    masked.eval(), ref.eval()
    x, mask = torch.randn(2, 6, 5, generator=g), torch.rand(2, 6, generator=g) > 0.5
    torch.testing.assert_close(masked(x, mask)[mask], ref(x[mask]))
    for n_real in (0, 1):  # no variance to measure: running estimate, left unchanged
        before = {k: v.clone() for k, v in masked.state_dict().items()}
        lonely = torch.arange(6).expand(2, 6) < n_real
        lonely = lonely & (torch.arange(2) == 0).unsqueeze(1)
        want = masked.eval()(x, lonely)
        got = masked.train()(x, lonely).detach()
        torch.testing.assert_close(got, want)
        for key in ("running_mean", "running_var"):
            torch.testing.assert_close(masked.state_dict()[key], before[key])


def test_masked_attention_equals_scaled_dot_product_attention() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 7, 4, generator=g) for _ in range(3))
    bias = torch.randn(3, 2, 7, 7, generator=g)
    ok = torch.rand(3, 7, generator=g) > 0.3
    ok[:, 0] = True
    attn_mask = bias.masked_fill(~ok[:, None, None, :], float("-inf"))
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    torch.testing.assert_close(masked_attention(q, k, v, ok, bias), want)
    empty = masked_attention(q, k, v, torch.zeros(3, 7, dtype=torch.bool), None)
    assert torch.isfinite(empty).all()  # no real key: a finite average, never NaN


def test_masked_mean_ignores_padding_and_empty_sets() -> None:
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[7.0], [7.0], [7.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    torch.testing.assert_close(masked_mean(x, mask, 1), torch.tensor([[2.0], [0.0]]))


def test_point_transformer_is_small_and_validates_its_sizes() -> None:
    from e2e_coffea.exceptions import BadInputError
    from e2e_coffea.models import count_parameters

    assert count_parameters(create_model("point_transformer", NF)) < 200_000
    with pytest.raises(BadInputError, match="multiple of its 3 heads"):
        create_model("point_transformer", NF, dim=64, heads=3)
    with pytest.raises(BadInputError, match="class_depth >= 1"):
        create_model("point_transformer", NF, class_depth=0)
    with pytest.raises(BadInputError, match="n_coords"):
        create_model("point_transformer", 2, n_coords=3)
    model = create_model("point_transformer", NF)
    with pytest.raises(BadInputError, match="mask must have shape"):
        model(jets([2], 8), mask=torch.ones(1, 3, dtype=torch.bool))
