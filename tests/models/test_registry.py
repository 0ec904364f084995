"""Every registered model: builds, runs on jet (125x125) and e/gamma (32x32) frames, all heads."""

from __future__ import annotations

import pytest
import torch

from e2e_coffea.exceptions import BadInputError, ChannelError
from e2e_coffea.models import (
    _registry,
    count_parameters,
    create_model,
    list_models,
    model_entry,
    register_model,
)

# Only to keep CI fast: overrides for the slowest defaults. A new model needs no entry.
FAST = {
    "vit": {"depth": 1},
    "vit_tiny": {"depth": 1},
    "vit_small": {"depth": 1},
}


def build(name: str, in_channels: int = 2, n_outputs: int = 1, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, in_channels, n_outputs, **{**FAST.get(name, {}), **kw}).eval()


def example(name: str, size: int, channels: int = 2, batch: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if model_entry(name).input_kind == "points":
        return torch.rand(batch, size // 4, channels, generator=g)  # (B, N points, F)
    return torch.rand(batch, channels, size, size, generator=g)


def test_registry_lists_the_zoo() -> None:
    names = list_models()
    for want in (
        "resnet15",
        "simplenet",
        "efficientnet_b0",
        "vit",
        "vit_tiny",
        "vit_small",
        "particle_gnn",
    ):
        assert want in names
    assert list_models("points") == ["particle_gnn", "point_transformer"]
    assert names == sorted(names)


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("size", [125, 32])
def test_forward_binary(name: str, size: int) -> None:
    model = build(name)
    with torch.no_grad():
        out = model(example(name, size))
    assert out.shape == (2, 1)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize(
    ("task", "n_outputs"), [("classification", 1), ("classification", 4), ("regression", 2)]
)
def test_heads(name: str, task: str, n_outputs: int) -> None:
    model = build(name, 3, n_outputs, task=task)
    assert model.task == task
    with torch.no_grad():
        out = model(example(name, 32, channels=3))
    assert out.shape == (2, n_outputs)


@pytest.mark.parametrize("name", list_models())
def test_scalars_are_used_and_required(name: str) -> None:
    model = build(name, n_scalars=2)
    x, s = example(name, 32), torch.tensor([[0.0, 0.0], [5.0, -3.0]])
    with torch.no_grad():
        a = model(x, s)
        b = model(x, s.flip(0))
    assert not torch.equal(a, b)  # the scalars reach the head
    with pytest.raises(BadInputError, match="scalar"):
        model(x)
    with pytest.raises(BadInputError, match="scalars"):
        model(x, torch.zeros(2, 3))
    with pytest.raises(BadInputError, match="n_scalars=0"):
        build(name)(x, s)


@pytest.mark.parametrize("name", list_models())
def test_every_parameter_gets_a_gradient(name: str) -> None:
    model = build(name, n_outputs=3, task="classification").train()
    out = model(example(name, 32, batch=4))
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 2, 1])).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None]
    assert not dead, f"parameters without gradient: {dead}"
    assert count_parameters(model) > 0


@pytest.mark.parametrize("name", list_models())
def test_wrong_input_is_refused(name: str) -> None:
    model = build(name)
    with pytest.raises(ChannelError, match="channel"):
        model(example(name, 32, channels=3))
    with pytest.raises(BadInputError, match="expects"):
        model(torch.zeros(2, 2))


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(BadInputError, match=r"unknown model 'resnet50'.*resnet15"):
        create_model("resnet50", 3)


def test_unknown_option_is_refused() -> None:
    with pytest.raises(BadInputError, match=r"no argument.*'depthh'.*options"):
        create_model("simplenet", 3, depthh=3)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_sizes_are_refused(bad: object) -> None:
    with pytest.raises(BadInputError, match="in_channels"):
        create_model("simplenet", bad)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="n_outputs"):
        create_model("simplenet", 2, bad)  # type: ignore[arg-type]


def test_unknown_task_is_refused() -> None:
    with pytest.raises(BadInputError, match="unknown task 'segmentation'"):
        create_model("resnet15", 3, task="segmentation")


def test_none_kwargs_keep_model_defaults() -> None:
    a = create_model("simplenet", 2, width=None, hidden=None)
    b = create_model("simplenet", 2)
    assert count_parameters(a) == count_parameters(b)
    assert a.model_name == "simplenet"
    assert a.model_kwargs == {"in_channels": 2, "n_outputs": 1}
    c = create_model("simplenet", 2, width=8)
    assert c.model_kwargs == {"in_channels": 2, "n_outputs": 1, "width": 8}
    assert count_parameters(c) < count_parameters(b)


def test_register_and_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))

    @register_model(name="tiny_linear")
    def tiny_linear(in_channels: int, n_outputs: int = 1) -> torch.nn.Module:
        """A test model."""
        return torch.nn.Linear(in_channels, n_outputs)

    assert "tiny_linear" in list_models()
    assert model_entry("tiny_linear").summary == "A test model."
    assert create_model("tiny_linear", 4).model_name == "tiny_linear"
    with pytest.raises(BadInputError, match="already registered"):
        register_model(name="tiny_linear")(tiny_linear)
