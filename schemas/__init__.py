"""Record types shared by every stage: pairs, rejects, manifests and the reason vocabulary."""
