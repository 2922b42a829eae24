"""Demo start-up: what ``optical-st demo`` does before it serves, cold (empty embedding cache) and warm.

Each run is a fresh Python process that imports the app, loads the served model, indexes every language
of the shipped corpus, calibrates the scores and builds the page (``app.build_demo``), timed step by
step. The first run writes the embedding cache into a new folder, the second reads it back::

    python bench/demo_startup.py [--model FOLDER_OR_HUB_ID] [--runs 2]

The model is resolved as ``optical-st demo`` resolves it (default: multilingual-e5-small through the
default chain; set ``HF_HUB_OFFLINE=1`` to skip the Hub probe when offline).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = """
import json, sys, time
begin = time.perf_counter()
from optical_st import app
steps = {"import": time.perf_counter() - begin}
state = app.DemoState(sys.argv[1] or None, cache_dir=sys.argv[2])
for name, step in [("load model", state.model), ("index shipped corpus", lambda: state.prepare(None, state.corpus())),
                   ("calibrate", state.calibration), ("build page", lambda: app.build_demo(state))]:
    mark = time.perf_counter()
    step()
    steps[name] = time.perf_counter() - mark
steps["total"] = time.perf_counter() - begin
steps["documents"] = len(state.corpus().documents)
print(json.dumps(steps))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="folder or Hub id (default: the demo's default model)")
    parser.add_argument("--runs", type=int, default=2, help="runs on one cache folder: the first is cold")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-startup-") as cache:
        for run in range(args.runs):
            output = subprocess.run(
                [sys.executable, "-c", CHILD, args.model, cache], check=True, capture_output=True, text=True
            ).stdout
            steps = json.loads(output.strip().splitlines()[-1])
            label = "cold" if run == 0 else "warm"
            timings = ", ".join(
                f"{name} {value:.1f} s" for name, value in steps.items() if name != "documents"
            )
            print(f"{label} ({steps['documents']:,} documents): {timings}", flush=True)


if __name__ == "__main__":
    main()
