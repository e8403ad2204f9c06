"""PyTorch networks built from genotypes (imports torch; `archsearch.space` does not)."""
