"""policymine: mine city policy PDFs for comparable practices across cities."""

__version__ = "0.1.0"
