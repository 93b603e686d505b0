"""A step that starts, says so, and sleeps: the process a fault test kills.

    python -m tests.fault.slow_step <marker> [--result-path ...]
"""

import sys
import time

print(f"started {sys.argv[1]}", flush=True)
time.sleep(120)
