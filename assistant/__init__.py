"""Stack Assistant: cited answers to founders' backend questions from one guide.

Importing the package does no work; every heavy part is built by a factory function.
"""

__version__ = "0.1.0"
