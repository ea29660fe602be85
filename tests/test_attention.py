import math

import pytest
import torch

from rtfm.attention import attend, attention_backend, key_bias

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def reference_attention(q, k, v, mask):
    """Independent reference: softmax(q k^T / sqrt(d)) v with masked keys at -inf, in float64."""
    q, k, v = q.double(), k.double(), v.double()
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, -1) @ v


def inputs(device="cpu", dtype=torch.float32, lq=37, lk=53, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 3, n, 16, generator=g) for n in (lq, lk, lk))
    mask = torch.rand(2, 1, lq, lk, generator=g) > 0.3
    mask[..., 0] = True  # every query may attend to at least one key
    return [t.to(device=device, dtype=dtype) for t in (q, k, v)] + [mask.to(device)]


def test_sdpa_matches_the_reference():
    q, k, v, mask = inputs()
    out = attend(q, k, v, mask, backend="sdpa")
    assert torch.allclose(out.double(), reference_attention(q, k, v, mask), atol=1e-5)


def test_a_key_bias_attends_as_its_mask_does():
    q, k, v, mask = inputs()
    bias = key_bias(mask)
    assert bias.dtype == torch.float32 and bias.shape == mask.shape
    assert torch.allclose(attend(q, k, v, bias, backend="sdpa").double(), reference_attention(q, k, v, mask), atol=1e-5)
    assert key_bias(torch.ones(2, 1, 1, 5, dtype=torch.bool)) is None and key_bias(None) is None


def test_backend_context_sets_the_default_and_restores_it():
    q, k, v, mask = inputs()
    with attention_backend("sdpa"):
        a = attend(q, k, v, mask)
    assert torch.equal(a, attend(q, k, v, mask))  # auto is SDPA on CPU
    if not torch.cuda.is_available():
        with attention_backend("xformers"), pytest.raises(RuntimeError, match="xformers"):
            attend(q, k, v, mask)  # CPU tensors: named, not silently run elsewhere
    with pytest.raises(ValueError, match="unknown attention backend"):
        with attention_backend("flash"):
            pass
    assert torch.equal(a, attend(q, k, v, mask))  # the failed block left the default alone


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-5), (torch.bfloat16, 2e-2)])
@pytest.mark.parametrize("backend", ["sdpa", "xformers"])
def test_cuda_backends_match_the_reference(backend, dtype, tol):
    if backend == "xformers":
        pytest.importorskip("xformers.ops")
    q, k, v, mask = inputs("cuda", dtype, lq=300, lk=517)  # a key length that is not a multiple of 8
    out = attend(q, k, v, mask, backend=backend)
    ref = reference_attention(q, k, v, mask)
    assert (out.double() - ref).abs().max() < tol
