"""Errors the classifier raises on purpose; all derive from Deskmail's one base exception."""

from models.errors import DeskmailError


class ClassifierError(DeskmailError):
    """Base of the classifier's errors."""


class CategoryTreeError(ClassifierError):
    """The category tree given is not a valid tree (duplicate key, unknown parent, cycle)."""


class TrainingError(ClassifierError):
    """A model cannot be trained from the examples given (too few, a single class, ...)."""


class ModelFormatError(ClassifierError):
    """A stored model cannot be read: wrong format, unknown version or damaged bytes."""


class EncoderMismatchError(ClassifierError):
    """A model needs sentence embeddings and no (or a different) encoder was given."""


class ComparisonError(ClassifierError):
    """Two sets of metrics were not measured on the same held-out examples."""


class CsvImportError(ClassifierError):
    """A CSV file of historical tickets cannot be read with the column mapping given."""
