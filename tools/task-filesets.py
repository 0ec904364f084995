"""Write ROOT/fileset.TASK.json for every training task: the datasets of the task's
processes, merged from the per-process filesets ROOT/PROCESS/fileset.json that
``e2e-coffea generate`` wrote (processes not generated are left out, with a note)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from e2e_coffea.io.fileset import load_fileset, relative_fileset
from e2e_coffea.train.tasks.definitions import TASKS


def main(root: Path) -> None:
    for name, task in TASKS.items():
        fileset, missing = {}, []
        for process in task.processes:
            path = root / process / "fileset.json"
            if path.is_file():  # its paths are relative to its own folder: resolve them
                fileset.update(load_fileset(path))
            else:
                missing.append(process)
        if missing:
            sys.stderr.write(f"{name}: no sample of {missing} under {root}; no fileset\n")
            continue
        relative = relative_fileset(fileset, root)  # relative to ROOT, where it goes
        (root / f"fileset.{name}.json").write_text(json.dumps(relative, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
