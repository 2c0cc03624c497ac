"""The ``leod`` command line: one sub-command per pipeline step.

A pipeline stage's command is listed from its spec (``flows/stages.py``), which also declares its
options; its ``run(args) -> int`` is in the stage's one module (``flows/<stage>.py``, with its Prefect
flow and tasks), imported only when the command runs, after Prefect's home is set. Every other command
is ``flows/commands/<name>.py`` with ``add_arguments(parser)`` and ``run(args)``, kept light (heavy
imports inside ``run``). Only the module of the command being run is imported, so ``leod --help`` and
``leod <cmd> --help`` load neither Prefect nor torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from flows.cli_args import add_args
from flows.stages import spec_args, stage_commands

__all__ = ["main", "commands", "build_parser", "setup_console_logging"]

# (command, module, one-line help) of the commands that are not pipeline stages (and the import stage's
# former name, which dvc.yaml still runs)
_OTHER_COMMANDS: list[tuple[str, str, str]] = [
    ("import-prophesee", "flows.import_data", "the same as `leod import` (its former name)"),
    ("stats", "flows.commands.stats", "statistics and realism (event rates, labels, boxes) of a dataset or of recordings"),
    ("model-info", "flows.commands.model_info", "parameter count, padding, partition and feature sizes of a preset"),
    ("import-checkpoint", "flows.commands.import_checkpoint", "convert an RVT/LEOD Lightning .ckpt into a leod checkpoint"),
    ("evaluate-boxes", "flows.commands.evaluate_boxes", "Prophesee mAP of anyone's per-sequence *_bbox.npy detections"),
    ("predict", "flows.commands.predict", "stream a detector over recordings: *_bbox.npy + Parquet detections, optional video"),
    ("suggest-frames", "flows.commands.suggest_frames", "rank unlabelled frames by what labelling them would teach the model"),
    ("export-labels", "flows.commands.export_labels", "frames + the round's boxes for Label Studio / CVAT / COCO, with a manifest"),
    ("import-labels", "flows.commands.import_labels", "a person's Label Studio / CVAT / COCO boxes back into label tables"),
    ("self-train", "flows.commands.self_train", "run the whole self-training DAG (DVC stages) as one Prefect flow"),
    ("serve", "flows.commands.serve", "register the self-training flow as a Prefect deployment (optional cron)"),
    ("study", "flows.commands.study", "label-ratio x seed study and ablations"),
    ("labelling-study", "flows.commands.labelling_study", "does suggesting frames pay? suggested vs uniform frames at equal budget"),
]


def commands() -> list[tuple[str, str, str]]:
    """(command, module, one-line help) of every ``leod`` command: the stages' (from their specs, in
    pipeline order), then the others."""
    return [*stage_commands(), *_OTHER_COMMANDS]


#: commands that handle their signals themselves: ``leod serve`` ends on Ctrl-C by design (exit 0)
_OWN_SIGNALS = frozenset({"serve"})


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``leod`` parser. Every command is listed with its options when they are data (a stage's spec);
    the other commands' modules are imported for their options only for ``only``, or for all when ``only``
    is None (docs, tests)."""
    parser = argparse.ArgumentParser(prog="leod", description="LEOD self-training pipeline for event cameras")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module, help_text in commands():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=None, _module_name=module)
        stage_args = spec_args(name)
        if stage_args is not None:  # a stage's options are data in its spec: its module loads only to run
            add_args(p, stage_args)
            continue
        if only is not None and name != only:
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def _command_of(argv: list[str]) -> str:
    """The sub-command named in ``argv`` (the first word that is not an option), or ``""``."""
    return next((a for a in argv if not a.startswith("-")), "")


class _QuietFailures(logging.Filter):
    """Console filter at the default verbosity: Prefect's failure reports (its ERROR records with their
    tracebacks, the "Finished in state Failed(...)" lines) stay in the Prefect run logs, and the
    ephemeral server's stop notice (printed at exit) does not follow the command's own error line."""

    _HIDDEN = ("in state Failed(", "in state Crashed(", "Stopping temporary server")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] != "prefect":
            return True
        return record.levelno < logging.ERROR and not any(h in record.getMessage() for h in self._HIDDEN)


class _NoTraceback(logging.Formatter):
    """One line per record on the console: tracebacks are for ``-v`` (the record itself is left whole
    for the other handlers, e.g. Prefect's API log handler)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def setup_console_logging(verbose: bool) -> None:
    """Log to stderr: everything with tracebacks when ``verbose``, else INFO and up, one line each,
    without Prefect's failure reports (the CLI prints the failure once, as ``leod <cmd>: error: ...``)."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt)
    if verbose:
        return
    for handler in logging.getLogger().handlers:
        # once per handler: in-process callers (tests, notebooks) run main() many times
        if isinstance(handler, logging.StreamHandler) and not any(isinstance(f, _QuietFailures)
                                                                   for f in handler.filters):
            handler.setFormatter(_NoTraceback(fmt))
            handler.addFilter(_QuietFailures())


def main(argv: list[str] | None = None) -> int:
    # Before torch loads libgomp: idle OpenMP threads sleep instead of spinning 300k rounds. With any other
    # busy process on the cores, spinning made a 2-thread training step 10-15x slower (bench_step.py); the
    # work split between threads, hence every result, does not depend on how idle threads wait.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser(_command_of(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    setup_console_logging(args.verbose)
    if args._module is None and spec_args(args.command) is not None:
        # a stage's module imports Prefect at its top: Prefect's home and defaults are set before it loads
        from flows.prefect_env import prepare_environment

        prepare_environment()
        args._module = importlib.import_module(args._module_name)
    if args._module is None:
        print(f"leod {args.command}: not available in this build", file=sys.stderr)
        return 2
    if argv is None and args.command not in _OWN_SIGNALS:
        # the console command: SIGTERM (timeout, CI, schedulers) / Ctrl-C / a closed terminal stop the Prefect
        # server and child processes it started and exit at once, in one line (143 / 130 / 129)
        from flows.server import exit_on_signals

        exit_on_signals(f"leod {args.command}")
    from flows.runtime import ONE_LINE_ERRORS, StepFailed

    try:
        return int(args._module.run(args) or 0)
    except (*ONE_LINE_ERRORS, StepFailed) as exc:
        # bad input or a machine problem: one clear line, non-zero exit (tracebacks only with -v); bugs
        # keep their traceback
        if args.verbose or (isinstance(exc, StepFailed) and not exc.bad_input):
            raise
        print(f"leod {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.verbose or not _api_lost(exc):
            raise
        print(f"leod {args.command}: error: lost the Prefect API at {os.environ.get('PREFECT_API_URL')} mid-run "
              f"({type(exc).__name__}: {exc}); rerun when it is back (DVC reruns only what did not finish)",
              file=sys.stderr)
        if argv is None:  # the console command: Prefect's exit hooks would retry the dead server for
            sys.stdout.flush()  # minutes; every output is already atomic, so nothing is lost by leaving now
            sys.stderr.flush()
            os._exit(1)
        return 1


def _api_lost(exc: BaseException) -> bool:
    """A transport error of Prefect's HTTP client: the API server went away while the command ran."""
    return any(type(e).__module__.split(".")[0] in ("httpx", "httpcore") for e in _chain(exc))


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


if __name__ == "__main__":
    sys.exit(main())
