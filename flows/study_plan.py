"""Which runs ``leod study`` makes, with which parameters: the plan of ``study.*`` (flows/settings.py).

Pure planning (no Prefect / MLflow): ``flows/study.py`` executes the plan, ``leod_core/study.py`` makes the
tables from its results.
"""

from __future__ import annotations

from collections.abc import Sequence

from flows.settings import STUDY_ABLATIONS, PipelineConfig
from leod_core.config import ConfigError
from leod_core.study import RunSpec

__all__ = ["plan_study", "select_runs", "stage_key", "parallel_seconds"]


def _main_id(setting: str, ratio: float, seed: int) -> str:
    return f"{setting}-{ratio:g}-s{seed}"


def _run_overrides(setting: str, ratio: float, seed: int) -> tuple[str, ...]:
    return (f"subsample.setting={setting}", f"subsample.ratio={ratio:g}", f"subsample.split_offset={seed}",
            f"train.seed={seed}")


def plan_study(cfg: PipelineConfig) -> list[RunSpec]:
    """Every run of the study, seed-major (a complete table for one seed comes first)."""
    st = cfg.study
    abl_ratio = st.ablation_ratio or cfg.subsample.ratio
    if st.ablations and not 0 < abl_ratio <= 0.5:
        raise ConfigError(f"params: study.ablation_ratio=0 takes subsample.ratio={cfg.subsample.ratio}, which is "
                          "not a WSOD ratio in (0, 0.5]; set study.ablation_ratio")
    runs: list[RunSpec] = []
    for seed in st.seeds:
        main_ids: dict[str, RunSpec] = {}
        for setting, ratios in (("wsod", st.wsod_ratios), ("ssod", st.ssod_ratios)):
            for r in ratios:
                rounds = max(st.rounds, st.ablation_rounds) if setting == "wsod" and st.ablations and r == abl_ratio \
                    else st.rounds
                spec = RunSpec(_main_id(setting, r, seed), "main", setting, r, seed, rounds,
                               overrides=_run_overrides(setting, r, seed))
                main_ids[spec.run_id] = spec
        if st.ablations and _main_id("wsod", abl_ratio, seed) not in main_ids:
            # the ablations' reference ("all components") must exist even when its ratio is off the grid
            spec = RunSpec(_main_id("wsod", abl_ratio, seed), "main", "wsod", abl_ratio, seed, st.ablation_rounds,
                           overrides=_run_overrides("wsod", abl_ratio, seed))
            main_ids[spec.run_id] = spec
        runs.extend(main_ids.values())
        if st.full_labels:
            runs.append(RunSpec(f"full-s{seed}", "full", "wsod", 1.0, seed, 0,
                                overrides=_run_overrides("wsod", 1.0, seed)))
        base = _main_id("wsod", abl_ratio, seed)
        for name in st.ablations:
            runs.append(RunSpec(f"abl_{name}-wsod-{abl_ratio:g}-s{seed}", "ablation", "wsod", abl_ratio, seed,
                                st.ablation_rounds, ablation=name, label=STUDY_ABLATIONS[name].label, base=base,
                                overrides=_run_overrides("wsod", abl_ratio, seed) + STUDY_ABLATIONS[name].overrides))
    return runs


def select_runs(runs: Sequence[RunSpec], only: str | None) -> list[RunSpec]:
    """Runs whose id matches the regular expression ``only`` (all when None); an empty match is an error."""
    import re

    if not only:
        return list(runs)
    try:
        pat = re.compile(only)
    except re.error as exc:
        raise ValueError(f"--only {only!r} is not a valid regular expression: {exc}") from None
    picked = [r for r in runs if pat.search(r.run_id)]
    if not picked:
        raise ValueError(f"--only {only!r} matches no run of the study (ids look like {runs[0].run_id})")
    return picked


def stage_key(fingerprint: str, stage: str) -> str:
    """The engine's cache key of one stage of a run (a plain file name: ``train@1`` keeps its ``@``)."""
    return f"{stage}-{fingerprint}"


def parallel_seconds(seconds: Sequence[float], workers: int) -> float:
    """Wall time of jobs taken in order by the first free of ``workers`` workers (a FIFO task runner)."""
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    free = [0.0] * workers
    for s in seconds:
        i = min(range(workers), key=free.__getitem__)
        free[i] += s
    return max(free)
