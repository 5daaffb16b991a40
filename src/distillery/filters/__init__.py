"""Filter specs: the single source of truth from oracle prompt to deployed scorer."""

from distillery.filters.registry import find_filter, list_filters, load_filter
from distillery.filters.spec import Dimension, FilterSpec, Gatekeeper, Tier

__all__ = ["Dimension", "FilterSpec", "Gatekeeper", "Tier", "find_filter", "list_filters", "load_filter"]
