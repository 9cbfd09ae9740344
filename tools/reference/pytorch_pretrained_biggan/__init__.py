# The BigGAN-deep generator of huggingface/pytorch-pretrained-BigGAN (commit 1e18aed, MIT License:
# LICENSE here; its setup.py metadata says Apache, its LICENSE file MIT). Only the model and its
# config are vendored: tools/reference/make_fixtures.py builds random-weight variants with them.
from .config import BigGANConfig
from .model import BigGAN
