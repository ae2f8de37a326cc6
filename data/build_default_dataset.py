"""Rebuild ``data/online_retail_2009_2011.parquet`` from the public UCI files.

Usage: ``python data/build_default_dataset.py [DATASETS_DIR]`` (default ``../shared/datasets``).

Online Retail II's first sheet (2009-12-01 .. 2010-11-30) is followed by Online Retail
(2010-12-01 .. 2011-12-09); the two files overlap on 1-9 Dec 2010 with identical rows, so the
overlap is taken from Online Retail only. Ids stay text exactly as written in the source CSVs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
RENAME_II = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
SPLIT = "2010-12-01"


def _read(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, infer_schema=False).rename(lambda c: RENAME_II.get(c, c))
    return frame.select(COLUMNS).with_columns(
        pl.col("Quantity").cast(pl.Int64),
        pl.col("UnitPrice").cast(pl.Float64),
        pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S"),
    )


def build(datasets: Path, out: Path) -> pl.DataFrame:
    split = pl.lit(SPLIT).str.to_datetime("%Y-%m-%d")
    first = _read(datasets / "online_retail_ii_2009_2010.csv.gz").filter(
        pl.col("InvoiceDate") < split
    )
    second = _read(datasets / "online_retail.csv.gz")
    combined = pl.concat([first, second])
    combined.write_parquet(out, compression="zstd", compression_level=19, statistics=True)
    return combined


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent.parent / "shared" / "datasets"
    frame = build(source, here / "online_retail_2009_2011.parquet")
    print(f"{frame.height:,} rows, {frame['InvoiceDate'].min()} .. {frame['InvoiceDate'].max()}")
