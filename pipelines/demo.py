"""`make demo`: generate the built-in sample dumps and run the extraction jobs on them.

    python -m pipelines.demo --output out/demo
"""

import argparse
import json
import os
import sys
import time

from pipelines import reddit
from sources.demo_inputs.reddit import write_demo_dumps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default="out/demo")
    parser.add_argument("--version", default=None, help="version name (default: UTC timestamp)")
    args = parser.parse_args(argv)

    inputs_dir = os.path.join(args.output, "inputs")
    reddit_inputs = write_demo_dumps(os.path.join(inputs_dir, "reddit"))
    version = ["--version", args.version] if args.version else []
    start = time.time()
    argv = [a for path in reddit_inputs for a in ("--input", path)] + ["--output", os.path.join(args.output, "pairs")]
    out_dir = reddit.run(argv + version + (["--overwrite"] if args.version else []))
    manifest = json.load(open(os.path.join(out_dir, "manifest.json")))
    counts = manifest["counts"]
    print(f"\nreddit: {counts['records_read']} records -> {counts['pairs']} pairs in {time.time() - start:.1f}s")
    print(f"  dropped: {counts['records_dropped']}")
    print(f"  rejected: {counts['records_rejected']}")
    print(f"  output: {out_dir}  (manifest.json, pairs-*.parquet, rejects-*.parquet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
