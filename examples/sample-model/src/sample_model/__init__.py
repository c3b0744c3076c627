"""A small digit classifier on scikit-learn's bundled digits: an MLP trained with Lightning."""

from sample_model.classifier import Classifier
from sample_model.data import DigitsDataModule
from sample_model.nn import MLP, fc_block

__all__ = ["MLP", "Classifier", "DigitsDataModule", "fc_block"]
