"""The GPU stage: encoder, losses, data loading, training loop, embedding, evaluation. No Beam."""
