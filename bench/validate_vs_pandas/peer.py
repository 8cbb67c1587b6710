"""pandas side of the validate_vs_pandas benchmark: read_csv, then
describe(include='all') and value_counts() of every column, the work of
`kiln validate stats`. Prints one JSON line with rows and seconds (the work
only, after imports) and the peak RSS of this process."""
import json
import resource
import sys
import time

import pandas as pd


def main():
    path = sys.argv[1]
    kw = {}
    if len(sys.argv) > 2 and sys.argv[2] == "adult":
        kw = dict(header=None, names=sys.argv[3].split(","), skipinitialspace=True,
                  comment="|", na_values="?")
    t0 = time.perf_counter()
    df = pd.read_csv(path, **kw)
    t1 = time.perf_counter()
    desc = df.describe(include="all")
    counts = {c: df[c].value_counts() for c in df.columns}
    t2 = time.perf_counter()
    assert len(desc.columns) == len(df.columns) and len(counts) == len(df.columns)
    print(json.dumps({"rows": len(df), "seconds": t2 - t0, "read_s": t1 - t0, "stats_s": t2 - t1,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "pandas": pd.__version__}))


if __name__ == "__main__":
    main()
