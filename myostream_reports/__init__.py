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
