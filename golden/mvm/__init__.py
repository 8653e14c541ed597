"""MVM read path (forward and transposed array reads): the golden arithmetic (issue 12)."""
