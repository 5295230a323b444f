"""Video inbetweening with direct 3D convolutions (Li, Roblek, Tagliasacchi 2019).

    from inbetweening import Inbetweener
    model = Inbetweener.load("runs/kth")          # a work directory or a params export
    videos = model.sample("start.png", "end.png", num_samples=8)   # uint8 [8, T, H, W, C]

The Flax generator module itself is inbetweening.models.Generator.
"""

from inbetweening.api import Inbetweener

__all__ = ["Inbetweener"]
