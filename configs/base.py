"""The paper's model and training (Section 3-4, Appendix A), as a config file:
--config=configs/base.py. The settings live in inbetweening/config/paper.py, so that every
config file loads by path from any directory once the package is installed."""

from inbetweening.config.paper import get_config  # noqa: F401
