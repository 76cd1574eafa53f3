# Type stub for the G722 package (libg722's CPython extension), which ships none.
# Written from the installed 1.2.8 module: G722(sample_rate, bit_rate, use_numpy=None).
# encode() reads its argument's items as samples, so it needs int16 items: a bytes object
# would be read one byte per sample.
from array import array

import numpy as np
import numpy.typing as npt

class G722:
    def __init__(self, sample_rate: int, bit_rate: int, use_numpy: bool | None = None) -> None: ...
    def encode(self, samples: npt.NDArray[np.int16] | array[int], /) -> bytes: ...
    def decode(self, data: bytes, /) -> array[int]: ...
