"""Exceptions raised on bad data; each message names the file and the problem."""


class DatasetError(Exception):
    """Base class of gclhand's data errors.

    Attributes:
        path: the offending file.
        problem: what is wrong with it (and, where known, how to fix it).
    """

    def __init__(self, path: str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f'{self.path}: {problem}')

    def __reduce__(self):
        # Keep the exception picklable across DataLoader worker processes.
        return type(self), (self.path, self.problem)


class AnnotationError(DatasetError, ValueError):
    """An annotation file is missing, unreadable or does not match the schema."""


class ImageError(DatasetError, OSError):
    """An image file is missing, truncated or cannot be decoded."""
