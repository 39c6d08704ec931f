"""Checks that Flowcept's own reader loads a capture file the trainer wrote.

Usage: python ci/flowcept_reads_our_file.py FILE

Flowcept 1.0.3's ``Flowcept.read_buffer_file(path, return_df=True)`` must return one
DataFrame row per line of the file, with the ``type``, ids and statuses intact.
"""

import json
import sys

from flowcept import Flowcept


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    frame = Flowcept.read_buffer_file(path, return_df=True)
    problems = []
    if len(frame) != len(rows):
        problems.append(f"flowcept read {len(frame)} rows, the file has {len(rows)} lines")
    expected_types = {"task": 0, "workflow": 0}
    for row in rows:
        expected_types[row["type"]] += 1
    read_types = frame["type"].value_counts().to_dict()
    if read_types != {k: v for k, v in expected_types.items() if v}:
        problems.append(f"types read {read_types}, expected {expected_types}")
    tasks = frame[frame["type"] == "task"]
    for column in ("task_id", "campaign_id", "workflow_id", "activity_id", "status"):
        if tasks[column].isna().any():
            problems.append(f"a task row has no {column}")
    if frame["campaign_id"].nunique() != 1:
        problems.append("rows of more than one campaign")
    for problem in problems:
        print(f"flowcept-compat: {problem}", file=sys.stderr)
    if not problems:
        print(f"flowcept-compat: Flowcept 1.0.3 read all {len(rows)} rows of {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
