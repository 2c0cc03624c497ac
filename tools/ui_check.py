"""``make ui-check``: both UIs, with the micro pipeline's runs in them, checked in a headless Chromium.

In a temporary copy of the repository (micro config, as ``make verify``): ``leod serve`` brings up the
Prefect server with the self-training deployment (on a cron schedule) and the MLflow UI over a fresh
tracking store; one run of that deployment runs every DVC stage as a task. Then Debian's ``chromium``,
driven by Playwright, opens both UIs, waits for the React pages to render and asserts on what they show:

- MLflow: the experiment, its runs named ``round K / stage``; the search ``tags.round = '1'`` lists the
  round-1 runs and no round-0 run; the chart view of the ``evaluate`` runs has the per-round ``AP`` chart;
  the report run's per-round metrics; a PNG artifact (PR curves) opens as an image.
- Prefect: the deployment with its schedule; the flow run, Completed, with one task per DVC stage;
  a stage's log; a second run, where stage ``import`` fails (``paths.raw`` pointed at a folder without
  recordings, a user's likely slip), shown Failed with the stage's one-line reason.

- The documentation site (issue 31), built with ``mkdocs build --strict`` and served on 127.0.0.1: the
  home page, the first-run tutorial, the generated CLI reference, and the search box finding a
  ``params.yaml`` key on the generated params reference (``--only docs`` runs this part alone, ~30 s).

Screenshots go to ``docs/ui/`` (the docs pages show them). It runs the plumbing micro config (its detectors
detect nothing): output hashes are ``make verify``'s job, on the detecting one.
Finally one SIGINT stops ``leod serve`` and both servers (asserted: the ports are free again).
Exit code 0 when every assertion held.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from check_result import CheckResult  # noqa: E402  (tools/check_result.py)
from flows.server import as_terminal_job, free_port, wait_healthy  # noqa: E402

SHOTS_DIR = ROOT / "docs" / "ui"
STOP_TIMEOUT_S = 180  # for leod serve to stop after one SIGINT
#: Debian's package (apt-get install chromium); Playwright's own browser download is never used
CHROMIUM = os.environ.get("LEOD_CHROMIUM", "/usr/bin/chromium")
#: no first-run UI, no background traffic to Google, no GPU (Playwright adds --headless)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CRON = "0 3 * * *"
#: the folder without recordings that the second run imports from, so that its import stage fails
NO_RECORDINGS = "data/no_recordings"
VIEWPORT = {"width": 1600, "height": 1000}
RENDER_TIMEOUT_MS = 90_000  # React pages on two busy cores


class Result(CheckResult):
    """One assertion on a page."""

    tool = "ui-check"


def _listening(port: int) -> bool:
    """Whether a server accepts connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def _start_serve(repo: Path, env: dict[str, str], pport: int, mport: int, log: Path) -> subprocess.Popen:
    """``leod serve`` in ``repo`` on the two ports (its own process group, so SIGINT reaches only it)."""
    cmd = [str(Path(sys.executable).parent / "leod"), "serve", "--cron", CRON,
           "-S", f"orchestration.prefect_port={pport}", "-S", f"mlflow.port={mport}"]
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=as_terminal_job)


def _wait_deployment(api: str, name: str, timeout_s: float) -> None:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            try:
                client.read_deployment_by_name(name)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"deployment {name} not registered at {api} within {timeout_s:.0f} s")
                time.sleep(1)


def _run_deployment(name: str, timeout_s: float) -> tuple[str, str, dict[str, str]]:
    """Run the deployment and wait for it: (flow run id, final state name, {task name: state name})."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.deployments import run_deployment

    fr = run_deployment(name, timeout=timeout_s)
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr.id])))
    return str(fr.id), fr.state_name or "?", {t.name: t.state_name or "?" for t in tasks}


def _mlflow_ids(uri: str, experiment: str) -> tuple[str, dict[str, str]]:
    """(experiment id, {run name: run id}) in the tracking store."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise RuntimeError(f"no MLflow experiment {experiment!r} in {uri}")
    return exp.experiment_id, {r.info.run_name: r.info.run_id for r in client.search_runs([exp.experiment_id])}


def _text_check(page, what: str, texts: list[str], absent: list[str] = ()) -> Result:
    """Wait until every one of ``texts`` is on the page; none of ``absent`` may be."""
    try:
        for t in texts:
            page.get_by_text(t, exact=True).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    except Exception as exc:
        return Result(what, False, f"{t!r} not shown: {type(exc).__name__}")
    shown = [t for t in absent if page.get_by_text(t, exact=True).count()]
    return Result(what, not shown, f"also shows {shown}" if shown else "")


def _close_assistant(page) -> None:
    """MLflow 3 opens its assistant panel beside every page; it hides half of the runs table."""
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


def _step(results: list[Result], what: str, fn) -> None:
    """Run one page step; an exception (a click that found nothing) is a failed result, not the end."""
    try:
        out = fn()
    except Exception as exc:
        results.append(Result(what, False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"))
        return
    results.extend(out if isinstance(out, list) else [out])


def _charts_settle(page, timeout_ms: int = 60_000) -> None:
    """Give MLflow's charts time to draw before a screenshot (its plot library loads after the page's
    text): wait for a drawn plot, else for the time out; the checks themselves assert on text only."""
    try:
        page.locator(".js-plotly-plot .main-svg, canvas").first.wait_for(timeout=timeout_ms)
        page.wait_for_timeout(2_000)  # the lines are drawn just after the axes
    except Exception:  # a screenshot with spinners still shows the chart names; not a failed check
        print(f"ui-check: MLflow's charts did not draw within {timeout_ms // 1000} s; the screenshot shows them "
              "loading", file=sys.stderr)


def _image_opens(page, what: str, selector: str) -> Result:
    img = page.locator(selector).first
    img.wait_for(timeout=RENDER_TIMEOUT_MS)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle(),
                           timeout=RENDER_TIMEOUT_MS)
    return Result(what, True, f"{img.evaluate('img => img.naturalWidth')} px wide")


def browse(murl: str, purl: str, experiment: str, exp_id: str, runs: dict[str, str], flow_run_id: str,
           failed_run_id: str, stages: list[str], shots: Path, profile: Path) -> list[Result]:
    """Open the pages, assert on them, save screenshots; every result, passed or not."""
    from playwright.sync_api import sync_playwright

    results: list[Result] = []
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                    args=CHROMIUM_FLAGS, viewport=VIEWPORT)
        page = ctx.new_page()
        try:
            def mlflow_runs() -> list[Result]:
                page.goto(f"{murl}/#/experiments/{exp_id}/runs")
                out = [_text_check(page, f"MLflow: experiment {experiment}, runs named 'round K / stage'",
                                   [experiment, "round 0 / train", "round 1 / evaluate", "report"])]
                _close_assistant(page)
                page.screenshot(path=str(shots / "mlflow_runs.png"))
                search = page.get_by_placeholder("metrics.rmse", exact=False).first
                search.fill("tags.round = '1'")
                search.press("Enter")
                out.append(_text_check(page, "MLflow: search tags.round = '1' lists the round-1 runs only",
                                       ["round 1 / evaluate", "round 1 / train", "4 matching runs"],
                                       absent=["round 0 / evaluate", "round 0 / train"]))
                # the chart view: one point per round (step = round) on each metric's chart
                search.fill("tags.stage = 'evaluate'")
                search.press("Enter")
                page.locator("label:has(input[name=runs-view-mode][value=CHART])").click()
                out.append(_text_check(page, "MLflow: chart view of the evaluate runs, AP per round",
                                       ["AP", "round 0 / evaluate (AP)", "round 1 / evaluate (AP)"]))
                _charts_settle(page)
                page.screenshot(path=str(shots / "mlflow_compare_rounds.png"))
                return out

            def mlflow_report() -> Result:
                # the rounds table as metrics over step = round (pseudo precision is NaN on micro: no pseudo
                # box falls on a withheld frame, and NaN is not logged)
                page.goto(f"{murl}/#/experiments/{exp_id}/runs/{runs['report']}/model-metrics")
                r = _text_check(page, "MLflow: the report run charts rounds.AP, rounds.pseudo_recall per round",
                                ["rounds.AP", "rounds.AP_50", "rounds.pseudo_recall"])
                _charts_settle(page)
                page.screenshot(path=str(shots / "mlflow_report_metrics.png"))
                return r

            def mlflow_artifact() -> Result:
                page.goto(f"{murl}/#/experiments/{exp_id}/runs/{runs['round 1 / evaluate']}/artifacts")
                page.get_by_text("pr_curves.png", exact=True).first.click(timeout=RENDER_TIMEOUT_MS)
                r = _image_opens(page, "MLflow: artifact pr_curves.png of round 1 / evaluate opens",
                                 "img[alt='pr_curves.png']")
                page.screenshot(path=str(shots / "mlflow_artifact.png"))
                return r

            def prefect_deployment() -> list[Result]:
                page.goto(f"{purl}/deployments")
                out = [_text_check(page, "Prefect: deployment leod-self-train listed", ["leod-self-train"])]
                page.get_by_text("leod-self-train", exact=True).first.click()
                out.append(_text_check(page, f"Prefect: its schedule (cron {CRON})", ["At 03:00 AM every day"]))
                page.screenshot(path=str(shots / "prefect_deployment.png"))
                return out

            def prefect_flow_run() -> list[Result]:
                page.goto(f"{purl}/runs/flow-run/{flow_run_id}")
                out = [_text_check(page, "Prefect: the flow run Completed", ["Completed", "10 Task runs"])]
                page.screenshot(path=str(shots / "prefect_flow_run.png"))
                page.get_by_text("Task Runs", exact=True).first.click()
                out.append(_text_check(page, f"Prefect: the flow run's {len(stages)} stage tasks listed",
                                       [f"dvc repro {s}" for s in stages]))
                page.get_by_text("dvc repro evaluate@1", exact=True).first.click()
                out.append(_text_check(page, "Prefect: the log of stage evaluate@1",
                                       ["Running stage 'evaluate@1':", "> leod evaluate --round 1"]))
                page.screenshot(path=str(shots / "prefect_stage_log.png"))
                return out

            def prefect_failed_run() -> list[Result]:
                page.goto(f"{purl}/runs/flow-run/{failed_run_id}")
                out = [_text_check(page, "Prefect: the second flow run Failed", ["Failed"])]
                page.get_by_text("Task Runs", exact=True).first.click()
                page.get_by_text("dvc repro import", exact=True).first.click()
                reason = page.get_by_text(f"stage import failed: leod import-prophesee: error: {NO_RECORDINGS}: "
                                          "no split folder", exact=False).first
                reason.wait_for(timeout=RENDER_TIMEOUT_MS)
                reason.scroll_into_view_if_needed()
                out.append(Result("Prefect: the failed stage import, with its one-line reason", True))
                page.screenshot(path=str(shots / "prefect_failed_stage.png"))
                return out

            for what, fn in (("MLflow runs", mlflow_runs), ("MLflow report run", mlflow_report),
                             ("MLflow artifact", mlflow_artifact), ("Prefect deployment", prefect_deployment),
                             ("Prefect flow run", prefect_flow_run), ("Prefect failed run", prefect_failed_run)):
                _step(results, what, fn)
        finally:
            ctx.close()
    return results


#: the documentation site's pages the check opens: (what, path, texts it must show, screenshot)
DOCS_PAGES = [
    ("docs: the home page", "", ["leod"], "docs_home.png"),
    ("docs: the first-run tutorial", "tutorials/first-run/", ["First run"], "docs_tutorial.png"),
    ("docs: the CLI reference lists leod predict", "reference/cli/", ["leod predict"], "docs_cli_reference.png"),
]
#: a params.yaml key (pseudo.tracker.min_track_len) the site's search must find on the generated params
#: reference: what a reader asking "what does this key do" types
DOCS_SEARCH_KEY = "min_track_len"


def build_docs(out: Path) -> None:
    """``mkdocs build --strict`` of the site (its reference generated from the code) into ``out``."""
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)], cwd=ROOT, check=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def browse_docs(site: Path, shots: Path, profile: Path) -> list[Result]:
    """Serve the built ``site`` on 127.0.0.1 (search needs HTTP, not file://), open the home page, a
    tutorial and the CLI reference, search the params reference for a key; every result, screenshots."""
    from playwright.sync_api import sync_playwright

    port = free_port(0)
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                               "--directory", str(site)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: list[Result] = []
    shots.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the docs server did not listen on 127.0.0.1:{port}")
            time.sleep(0.2)
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                        args=CHROMIUM_FLAGS, viewport=VIEWPORT)
            try:
                page = ctx.new_page()
                for what, path, texts, shot in DOCS_PAGES:
                    def visit(path=path, what=what, texts=texts, shot=shot) -> Result:
                        page.goto(f"http://127.0.0.1:{port}/{path}")
                        r = _heading_check(page, what, texts)
                        page.screenshot(path=str(shots / shot))
                        return r

                    _step(results, what, visit)

                def search() -> Result:
                    page.goto(f"http://127.0.0.1:{port}/reference/params/")
                    box = page.locator("input.md-search__input")
                    box.click()  # in the header at this viewport's width
                    page.keyboard.type(DOCS_SEARCH_KEY, delay=30)  # typed: the search runs on key events
                    hit = page.locator(".md-search-result__item a[href*='reference/params/']").first
                    hit.wait_for(timeout=RENDER_TIMEOUT_MS)
                    page.screenshot(path=str(shots / "docs_params_search.png"))
                    hits = page.locator(".md-search-result__item a").count()
                    hit.click()
                    page.wait_for_load_state()
                    page.locator("code", has_text=f"pseudo.tracker.{DOCS_SEARCH_KEY}").first.wait_for(
                        timeout=RENDER_TIMEOUT_MS)
                    return Result(f"docs: searching {DOCS_SEARCH_KEY!r} finds the params reference, which shows "
                                  f"pseudo.tracker.{DOCS_SEARCH_KEY}", True, f"{hits} hits")

                _step(results, "docs: search", search)
            finally:
                ctx.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def browse_docs_built(tmp: Path, shots: Path) -> list[Result]:
    """Build the site into ``tmp/site`` and browse it (:func:`browse_docs`); a failed build is one result."""
    t0 = time.monotonic()
    try:
        build_docs(tmp / "site")
    except subprocess.CalledProcessError as exc:
        return [Result("docs: mkdocs build --strict", False, f"exit {exc.returncode}")]
    results = browse_docs(tmp / "site", shots, tmp / "docs-profile")
    print(f"ui-check: documentation site built and browsed in {time.monotonic() - t0:.0f} s", flush=True)
    return results


def _heading_check(page, what: str, texts: list[str]) -> Result:
    """Every one of ``texts`` is a heading of the page (h1-h3)."""
    for t in texts:
        try:
            page.locator("h1, h2, h3", has_text=t).first.wait_for(timeout=RENDER_TIMEOUT_MS)
        except Exception as exc:
            return Result(what, False, f"no heading {t!r}: {type(exc).__name__}")
    return Result(what, True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/ui_check.py", description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=Path, default=SHOTS_DIR, help=f"screenshot folder (default: {SHOTS_DIR})")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the pipeline run")
    parser.add_argument("--only", choices=["all", "docs"], default="all",
                        help="docs: only the documentation site (built, served and browsed; ~30 s)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"ui-check: error: no Chromium at {CHROMIUM}: apt-get install -y chromium (or set LEOD_CHROMIUM)",
              file=sys.stderr)
        return 1
    try:
        import mlflow.server  # noqa: F401
        import playwright  # noqa: F401
    except ImportError as exc:
        print(f"ui-check: error: {exc.name} missing: run `make ui-check` (installs the ui and ui-check extras)",
              file=sys.stderr)
        return 1
    from flows.commands.serve import DEPLOYMENT_NAME
    from flows.runtime import prepare_environment
    from flows.smoke import MICRO_OVERRIDES, apply_overrides, make_repo_copy, stage_env
    from flows.settings import load_config

    tmp = Path(tempfile.mkdtemp(prefix="leod-ui-check-"))
    serve = None
    t0 = time.monotonic()
    try:
        results = browse_docs_built(tmp, args.shots)
        if args.only == "all":
            repo = make_repo_copy(ROOT, tmp / "repo")
            apply_overrides(repo, MICRO_OVERRIDES)
            experiment = load_config(repo / "params.yaml").experiment_name()
            env = stage_env(repo)
            uri = env["MLFLOW_TRACKING_URI"] = f"sqlite:///{repo / 'mlflow.db'}"
            env.pop("PREFECT_API_URL", None)  # leod serve starts its own server
            env["MLFLOW_DISABLE_TELEMETRY"] = "true"
            pport, mport = free_port(0), free_port(0)
            serve = _start_serve(repo, env, pport, mport, tmp / "serve.log")
            purl, murl = f"http://127.0.0.1:{pport}", f"http://127.0.0.1:{mport}"
            for url, name in ((f"{purl}/api", "prefect server"), (murl, "mlflow server")):
                wait_healthy(url, 300, serve, name)
            # before Prefect's first import in this process: it reads its settings once, then
            os.environ.update(PREFECT_API_URL=f"{purl}/api", PREFECT_HOME=env["PREFECT_HOME"])
            prepare_environment(repo)
            from flows.stages import stage_order

            full_name = f"self-train/{DEPLOYMENT_NAME}"
            _wait_deployment(purl, full_name, 300)
            print(f"ui-check: servers and deployment up in {time.monotonic() - t0:.0f} s; running {full_name}",
                  flush=True)
            t1 = time.monotonic()
            flow_run_id, state, tasks = _run_deployment(full_name, args.timeout)
            stages = stage_order(1)
            results += [Result(f"pipeline: flow run {state} in {time.monotonic() - t1:.0f} s", state == "Completed"),
                       Result("pipeline: one Completed task per DVC stage",
                              all(tasks.get(f"dvc repro {s}") == "Completed" for s in stages), str(tasks))]
            exp_id, runs = _mlflow_ids(uri, experiment)
            # a second run with a failing stage: raw data pointed at a folder without recordings makes the
            # import stage stop with one line
            (repo / NO_RECORDINGS).mkdir(parents=True)
            apply_overrides(repo, [f"paths.raw={NO_RECORDINGS}"])
            failed_run_id, failed_state, failed_tasks = _run_deployment(full_name, args.timeout)
            results.append(Result("pipeline: a second run with stage import failing ends Failed",
                                  failed_state == "Failed" and failed_tasks.get("dvc repro import") == "Failed",
                                  str({k: v for k, v in failed_tasks.items() if v != "Completed"})))
            t2 = time.monotonic()
            results += browse(murl, purl, experiment, exp_id, runs, flow_run_id, failed_run_id, stages, args.shots,
                              tmp / "profile")
            print(f"ui-check: browser checks took {time.monotonic() - t2:.0f} s", flush=True)
            # one Ctrl-C stops leod serve and both servers
            serve.send_signal(signal.SIGINT)
            try:
                # 19 s on idle cores; Prefect's runner shuts its deployment down first, minutes on loaded ones
                serve.wait(timeout=STOP_TIMEOUT_S)
                freed = [not _listening(p) for p in (pport, mport)]
                results.append(Result("one SIGINT stops leod serve, the Prefect and the MLflow server", all(freed),
                                      f"exit {serve.returncode}; ports free: {freed}"))
            except subprocess.TimeoutExpired:
                results.append(Result("one SIGINT stops leod serve, the Prefect and the MLflow server", False,
                                      f"still running after {STOP_TIMEOUT_S} s"))
        for r in results:
            print(r)
        failed = [r for r in results if not r.ok]
        print(f"ui-check: {len(results) - len(failed)}/{len(results)} passed in {time.monotonic() - t0:.0f} s; "
              f"screenshots in {args.shots}")
        if failed:
            if args.only == "all":
                print(f"ui-check: leod serve's log: {tmp / 'serve.log'}", file=sys.stderr)
            args.keep = True
        return 1 if failed else 0
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                serve.kill()
        if args.keep:
            print(f"ui-check: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
