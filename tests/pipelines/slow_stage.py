"""A stand-in stage for tests/pipelines/test_progress.py: reports progress on stderr, as tqdm and
ProgressLog do, while it sleeps; its last stdout line is its result."""

import sys
import time

if __name__ == "__main__":
    sys.stderr.write("starting\n")
    sys.stderr.flush()
    time.sleep(0.6)
    sys.stderr.write("embed passage:  40%|####      | 2/5 [00:01<00:01,  2.00text/s]\r")
    sys.stderr.flush()
    time.sleep(0.6)
    sys.stderr.write("\nINFO progress: corpus read: 3 pairs (5/s, 60% of 5, ETA 1s, 2s so far)\n")
    sys.stderr.flush()
    time.sleep(0.6)
    print('{"done": true}')
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
