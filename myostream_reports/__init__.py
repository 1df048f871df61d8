"""Report writers, apart from the runtime: ``myostream report WHAT``.

Each report is a module whose command function takes typed arguments and an explicit
output folder or file (``myostream/cli.py`` declares the arguments and the documented
defaults); the generated files are committed and name the command that made them.
The runtime (``myostream``) never imports this package.

- ``reliability``: every known bad input as a real process -> ``docs/reliability.md``
- ``transfer``: zero- and few-shot transfer to new people beside the per-person LDA -> ``docs/results/transfer``
- ``rejection``: accuracy of accepted hops vs acceptance, "no confident match" -> ``docs/results/rejection``
- ``results``: protocols x MyoSem, baselines and ablations -> ``docs/results/EXPERIMENT``
- ``text``: the stage-1 text space before and after training -> ``docs/results/text``
- ``bench`` (with the measurement modules of ``benchmarks/``): ratios side by side -> ``benchmarks/results``
- ``screenshots``: the recorder and its review view -> ``docs/screenshots``
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from myostream.errors import MyostreamError

#: the shared data's dataset folders the real-data reports read, by the names --dataset takes
DATASET_FOLDERS = {"myo": "myo-armband", "db1": "ninapro-db1"}


def dataset_folders(data: str | Path, datasets: Sequence[str], report: str) -> dict[str, Path]:
    """The folder of each of ``datasets`` in the shared ``data`` folder, or one sentence naming the missing."""
    needed = {d: Path(data) / DATASET_FOLDERS[d] for d in datasets}
    missing = [str(p) for p in needed.values() if not p.is_dir()]
    if missing:
        raise MyostreamError(
            f"The {report} report needs {', '.join(missing)}; pass --data with the folder that holds "
            f"{' and '.join(f'{f}/' for f in DATASET_FOLDERS.values())} (the project's shared data)."
        )
    return needed
