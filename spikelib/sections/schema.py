"""Column schemas of the section tables, defined once and checked on every write and read."""

import dataclasses

import pandas as pd

_KINDS = {"str": "object", "int": "int64", "float": "float64", "bool": "bool"}
# Budget columns every section table carries (see Profile.budget).
BUDGET = {"profile": "str", "epochs": "int", "train_examples": "int",
          "validation_examples": "int", "test_examples": "int"}


@dataclasses.dataclass(frozen=True)
class Table:
    """A named table with fixed columns: name -> kind ("str", "int", "float", "bool")."""

    name: str
    columns: dict

    def frame(self, rows):
        """The rows (list of dicts or DataFrame) as a DataFrame of exactly these columns."""
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        if frame.empty and not len(frame.columns):
            frame = pd.DataFrame(columns=list(self.columns))
        return self.check(frame)

    def check(self, frame):
        """`frame` with columns in schema order and kinds; ValueError naming what differs."""
        missing = [c for c in self.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in self.columns]
        if missing or extra:
            raise ValueError(f"table {self.name!r}: missing columns {missing}, "
                             f"unexpected columns {extra}")
        frame = frame[list(self.columns)].copy()
        for column, kind in self.columns.items():
            if kind == "str":
                frame[column] = frame[column].astype(str)
            elif kind in ("int", "bool") and frame[column].isna().any():
                raise ValueError(f"table {self.name!r}: column {column!r} ({kind}) has missing values")
            else:
                frame[column] = frame[column].astype(_KINDS[kind])
        return frame.reset_index(drop=True)

    def read(self, root):
        """The table as written under `root` (results/<profile>), checked."""
        from spikelib.store import read_table
        return self.check(read_table(root, self.name))
