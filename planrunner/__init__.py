"""planrunner: declarative trade plans compiled to exchange actions and applied exactly once."""

__version__ = "0.1.0"
