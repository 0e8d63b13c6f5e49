"""Model internals: the eval-mode filter cache and parameter counts taken on the meta device."""

import pytest
import torch

from suite import registry

# The variants whose parameter counts come from a build on the meta device (escnn and e3nn
# compute at construction and cannot be built there: see models/planar/_escnn.py and models/planar/_e3nn.py).
META_COUNTED = ("cnn", "cnn-aug", "cnn-aug-so2", "stack-c4", "gcnn-c4")


def test_eval_mode_gradients_after_an_inference_mode_forward():
    """A saliency map after an evaluation: the eval-mode filter cache filled under inference_mode
    must not be used when gradients are on (inference tensors cannot be saved for backward)."""
    torch.manual_seed(0)
    model = registry.get("gcnn-c4").eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.inference_mode():
        model(x)
    x = x.clone().requires_grad_(True)
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("name", ["gcnn-c4", "gcnn-o"])
def test_the_eval_mode_cache_serves_only_gradient_free_forwards(name):
    """One rule (models/_eval_cache.py) for the planar and the cube's group convolutions."""
    torch.manual_seed(0)
    conv = registry.get(name).eval().features[3]
    bank = lambda: conv.cached(conv.expanded)[0]  # noqa: E731
    with torch.no_grad():
        first = bank()
        assert bank() is first  # cached while the weights stay the same
    with_grad = bank()
    assert with_grad is not first and with_grad.requires_grad
    with torch.no_grad():
        conv.weight.add_(1.0)  # a changed weight invalidates the cache
        assert not torch.equal(bank(), first)
        changed = bank()
    conv.eval()  # eval() keeps it (an evaluation calls it before every pass)
    with torch.no_grad():
        assert bank() is changed
    conv.train().eval()  # and train() drops it
    with torch.no_grad():
        assert bank() is not changed


@pytest.mark.parametrize("budget", [None, 100_000])
@pytest.mark.parametrize("name", META_COUNTED)
def test_meta_count_equals_the_real_count(name, budget):
    from models._budget import count_on_meta

    spec = registry.get_variant(name)
    meta = count_on_meta(lambda: spec.build(budget=budget))
    assert meta == registry.count_params(spec.build(budget=budget))


def test_a_meta_build_allocates_no_parameters():
    from models._budget import count_on_meta

    built = []

    def build():
        built.append(registry.get("gcnn-c4", budget=100_000))
        return built[-1]

    assert count_on_meta(build) > 90_000
    assert {p.device.type for p in built[0].parameters()} == {"meta"}


@pytest.mark.parametrize("budget", [None, 100_000])
def test_escnn_count_without_a_build_equals_the_real_count(budget):
    """escnn cannot be built on the meta device; its count per field pair stands in for it."""
    from models.planar import _escnn

    model = registry.get("escnn-c4", budget=budget)
    assert _escnn.param_count("C4", model.fields) == registry.count_params(model)


def test_the_stack_in_cpu_chunks_gives_the_logits_of_one_pass():
    """Large CPU batches run in cache-sized chunks (models/planar/stack_c4.py): same logits, same symmetry."""
    from models.planar.stack_c4 import CPU_CHUNK

    torch.manual_seed(0)
    model = registry.get("stack-c4").eval()
    x = torch.rand(2 * CPU_CHUNK + 3, 1, 28, 28)
    with torch.no_grad():
        chunked = model(x)
        whole = model.stacked(x)
        turned = model(torch.rot90(x, 1, dims=(-2, -1)))
    assert torch.allclose(chunked, whole, rtol=1e-5, atol=1e-6)
    assert (turned - chunked).abs().max() < 1e-4


@pytest.mark.parametrize("name", ["escnn-c4", "escnn-c8", "escnn-d4", "escnn-so2"])
def test_escnn_fused_expansion_gives_escnn_s_own_logits(name):
    """models/planar/_escnn_fused.py expands each filter in one matmul: the same logits as escnn's own
    expansion (to 1e-5 relative), in train mode (expanded per step) and in eval (cached)."""
    from models.planar._escnn_fused import FusedR2Conv

    torch.manual_seed(0)
    model = registry.get(name)
    fused = [m for m in model.modules() if isinstance(m, FusedR2Conv)]
    assert fused and all(m._block_shape is not None for m in fused), "every layer takes the fused path"
    x = torch.rand(16, 1, 28, 28)
    outputs = {}
    for path in ("fused", "escnn"):
        if path == "escnn":
            for m in fused:
                m._block_shape = None  # escnn's own BlocksBasisExpansion
        outputs[path] = [model.train()(x), model.eval()(x)]
    for mine, theirs in zip(outputs["fused"], outputs["escnn"], strict=True):
        assert torch.allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_escnn_layers_read_their_own_contiguous_bases_and_hash_them_by_identity():
    """Each fused layer's basis is its own contiguous copy (read as a matrix without copying it at
    every step), and its basis modules hash and compare by identity, so ``eval()`` does not hash
    the sampled bases: two models of the same variant hold equal bases that are not the same."""
    from models.planar._escnn_fused import FusedR2Conv

    torch.manual_seed(0)
    one, two = registry.get("escnn-c4"), registry.get("escnn-c4")
    layers = [[m for m in model.modules() if isinstance(m, FusedR2Conv)] for model in (one, two)]
    for a, b in zip(*layers, strict=True):
        block_a, block_b = a._block[0], b._block[0]
        assert block_a.sampled_basis.is_contiguous()
        assert torch.equal(block_a.sampled_basis, block_b.sampled_basis)
        assert block_a.sampled_basis.data_ptr() != block_b.sampled_basis.data_ptr()
        assert block_a != block_b and hash(block_a) == object.__hash__(block_a)
        assert a.basisexpansion != b.basisexpansion and a.basisexpansion == a.basisexpansion


def test_the_e3nn_kernel_is_cached_only_for_gradient_free_eval_forwards():
    from models.planar._e3nn import VoxelConvolution

    torch.manual_seed(0)
    conv = VoxelConvolution("1x0e", "2x0e + 1x1o", 3, dims=3).eval()
    x = torch.rand(1, 1, 4, 4, 4)
    with torch.no_grad():
        first = conv.current_kernel()
        assert conv.current_kernel() is first
        conv.weight.add_(1.0)  # a changed weight builds it again
        assert not torch.equal(conv.current_kernel(), first)
    assert conv.current_kernel().requires_grad and conv(x).requires_grad
    assert conv.train().current_kernel() is not conv.current_kernel()  # training: never cached
