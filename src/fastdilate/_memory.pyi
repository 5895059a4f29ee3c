import numpy as np

MIN_BYTES: int
MAX_BYTES: int
SLOTS: int
HANDLER_NAME: str

def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray: ...
def pooled_blocks() -> int: ...
