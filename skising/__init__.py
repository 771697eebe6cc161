"""skising: task-specific graph subsampling with a learned Ising model."""

__version__ = "0.1.0"
