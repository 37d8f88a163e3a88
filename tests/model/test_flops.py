from model.encoder import load_encoder
from model.flops import non_embedding_params, peak_flops, train_flops_per_token


def test_parameter_count_matches_the_real_minilm():
    encoder = load_encoder(None, "cpu")
    layers = sum(p.numel() for p in encoder.backbone.encoder.parameters())
    assert non_embedding_params(encoder.backbone.config) == layers
    assert train_flops_per_token(encoder.backbone.config, 0) == 6 * layers


def test_peak_lookup():
    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA H100 PCIe") == 756e12
    assert peak_flops("Some CPU") is None
