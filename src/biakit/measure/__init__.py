"""Per-object measurements in physical units: shape, size and intensity tables.

>>> import numpy as np
>>> from biakit.measure import measure_objects, summarize
>>> labels = np.zeros((20, 20), dtype=np.uint16)
>>> labels[2:6, 2:6] = 1
>>> labels[10:18, 5:9] = 7
>>> df = measure_objects(labels, spacing=(0.5, 0.5), properties=["area", "solidity"])
>>> df["area"].tolist()
[4.0, 8.0]
>>> summarize(df)["count"]
2
"""

from biakit.measure._columns import COLUMNS, INTENSITY, SHAPE_2D, SHAPE_3D, column_units
from biakit.measure._measure import measure_objects
from biakit.measure._table import summarize, write_table

__all__ = [
    "COLUMNS",
    "INTENSITY",
    "SHAPE_2D",
    "SHAPE_3D",
    "column_units",
    "measure_objects",
    "summarize",
    "write_table",
]
