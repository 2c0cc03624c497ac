"""``make label ROUND=K [FRAMES=file] [LABEL_PORT=8080]``: label round K's frames in a local Label Studio.

Label Studio runs from its own virtual environment, ``.venv-label`` (``requirements-label.lock``; it pins
Django, numpy, pandas and more that would fight the pipeline's lock), and talks to leod only through
files and its HTTP API. This script (run by the pipeline's venv, standard library HTTP only):

1. starts Label Studio bound to 127.0.0.1:PORT, its database and files under
   ``<artifacts>/labelling/label-studio/`` (never ``$HOME``), with one user whose e-mail, password and API
   token are made once and kept in ``label-studio/login.json``; while it boots,
2. runs ``leod export-labels --round K [--frames FILE]`` with image URLs that Label Studio's local-files
   serving resolves (``/data/local-files/?d=round_K/export/images/...``, document root
   ``<artifacts>/labelling``),
3. creates the project ``leod round K`` with the export's interface XML, a local-files storage over the
   export folder (what lets the browser load the images) and the tasks with their predictions, which
   Label Studio shows as pre-annotations,
4. prints the URL and the login and waits; Ctrl-C exports the annotated tasks (JSON, what the Export
   button gives) to ``<artifacts>/labelling/round_K/export/returned.json`` for ``leod import-labels`` and
   stops the server. A task nobody annotated is not in that file: its frame keeps the round's boxes.

A project of that name that already exists is opened as it is (no new export, nothing lost); ``--fresh``
(``make label FRESH=1``) deletes it and starts over. Every wait is bounded; the server is stopped on
every way out. The functions are what ``tools/label_check.py`` drives.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL_VENV = ROOT / ".venv-label"
LABEL_STUDIO = LABEL_VENV / "bin" / "label-studio"
INSTALL_HINT = "make .venv-label/.installed (Label Studio's own venv, from requirements-label.lock)"
#: first start (database migrations) measured at ~23 s on 2 busy cores; later starts are quicker
READY_TIMEOUT_S = 180
STOP_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 120
DATA_DIR = "label-studio"  # under <artifacts>/labelling
LOGIN_FILE = "login.json"
RETURNED_FILE = "returned.json"  # in the export folder, beside manifest.json
LOCAL_FILES_PREFIX = "/data/local-files/?d="

__all__ = ["Login", "Server", "label_studio_env", "load_login", "start_server", "wait_ready", "stop_server",
           "api", "find_project", "create_project", "delete_project", "add_local_storage", "import_tasks",
           "export_annotations", "image_url_prefix", "main"]


@dataclass(frozen=True)
class Login:
    """The one Label Studio user: web login and the legacy API token the HTTP calls send."""
    email: str
    password: str
    token: str


@dataclass
class Server:
    """A running Label Studio."""
    url: str
    proc: subprocess.Popen
    login: Login
    log: Path


def load_login(data_dir: Path) -> Login:
    """The user of ``data_dir`` (made on first use: random password and token, file mode 0600)."""
    path = data_dir / LOGIN_FILE
    if path.is_file():
        return Login(**json.loads(path.read_text()))
    data_dir.mkdir(parents=True, exist_ok=True)
    login = Login("leod@localhost", secrets.token_urlsafe(12), secrets.token_hex(20))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(login.__dict__, f, indent=1)
    return login


def label_studio_env(data_dir: Path, document_root: Path, login: Login) -> dict[str, str]:
    """Environment of the server: data under ``data_dir``, local files served from ``document_root``,
    the user made non-interactively, nothing sent out (no Sentry, analytics, version check)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_"))}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir.resolve()),
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(document_root.resolve()),
        "LABEL_STUDIO_USERNAME": login.email,
        "LABEL_STUDIO_PASSWORD": login.password,
        "LABEL_STUDIO_USER_TOKEN": login.token,
        "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "COLLECT_ANALYTICS": "false",
        "LATEST_VERSION_CHECK": "false",
        "HOME": str(data_dir.resolve()),  # anything it writes to ~ stays with its data
    })
    return env


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_server(data_dir: Path, document_root: Path, port: int, log: Path | None = None) -> Server:
    """Start Label Studio on 127.0.0.1:``port`` (its own process group, output to ``log``)."""
    if not LABEL_STUDIO.is_file():
        raise RuntimeError(f"Label Studio is not installed: {INSTALL_HINT}")
    if not _port_free(port):  # Label Studio would silently move to the next free port
        raise RuntimeError(f"port {port} on 127.0.0.1 is in use (LABEL_PORT=... to choose another)")
    data_dir = data_dir.resolve()
    login = load_login(data_dir)
    log = log or data_dir / "server.log"
    cmd = [str(LABEL_STUDIO), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--enable-legacy-api-token", "--log-level", "WARNING"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=data_dir, env=label_studio_env(data_dir, document_root, login),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return Server(f"http://127.0.0.1:{port}", proc, login, log)


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def wait_ready(server: Server, timeout_s: float = READY_TIMEOUT_S) -> float:
    """Seconds until ``/health`` answers UP and the API takes the token; raises on exit or timeout."""
    t0 = time.monotonic()
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"Label Studio exited ({server.proc.returncode}) while starting; "
                               f"{server.log}:\n{_tail(server.log)}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=5) as r:
                if json.loads(r.read()).get("status") == "UP":
                    api(server, "GET", "/api/projects?page_size=1", timeout_s=30)
                    return time.monotonic() - t0
        except (OSError, ValueError):
            pass
        if time.monotonic() - t0 > timeout_s:
            raise RuntimeError(f"Label Studio not ready on {server.url} within {timeout_s:.0f} s; "
                               f"{server.log}:\n{_tail(server.log)}")
        time.sleep(1)


def stop_server(server: Server, timeout_s: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM to the server's process group (Django's development server holds nothing a kill loses:
    every write is a committed SQLite transaction), then SIGKILL; its exit code."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if server.proc.poll() is not None:
            break
        try:
            os.killpg(server.proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            continue
    return server.proc.wait(timeout=timeout_s)


def api(server: Server, method: str, path: str, body=None, timeout_s: float = HTTP_TIMEOUT_S):
    """One call of the HTTP API (token auth, JSON in and out); an HTTP error raises with its body."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, method=method,
                                 headers={"Authorization": f"Token {server.login.token}",
                                          "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            raw = r.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"Label Studio {method} {path}: HTTP {exc.code}: "
                           f"{exc.read().decode(errors='replace')[:500]}") from None
    return json.loads(raw) if raw.strip() else None


def find_project(server: Server, title: str) -> dict | None:
    """The project named ``title`` (the newest if several), or None."""
    out = api(server, "GET", "/api/projects?page_size=1000&title=" + urllib.parse.quote(title))
    found = [p for p in (out["results"] if isinstance(out, dict) else out) if p.get("title") == title]
    return max(found, key=lambda p: p["id"]) if found else None


def create_project(server: Server, title: str, label_config: str, model_version: str = "") -> int:
    """A project with the interface ``label_config``; its predictions of ``model_version`` are shown as
    pre-annotations when a task opens."""
    body = {"title": title, "label_config": label_config, "show_collab_predictions": True}
    if model_version:
        body["model_version"] = model_version
    return int(api(server, "POST", "/api/projects", body)["id"])


def delete_project(server: Server, project: int) -> None:
    api(server, "DELETE", f"/api/projects/{project}")


def add_local_storage(server: Server, project: int, path: Path) -> int:
    """A local-files storage over ``path`` (under the document root): the server then serves the files
    below it to the project's users at ``/data/local-files/?d=<path relative to the root>``. Not synced:
    the tasks come from the export's JSON, with their predictions."""
    body = {"project": project, "path": str(path.resolve()), "title": "leod export", "use_blob_urls": False,
            "regex_filter": ""}
    return int(api(server, "POST", "/api/storages/localfiles", body)["id"])


def import_tasks(server: Server, project: int, tasks_json: Path) -> int:
    """Import the tasks of ``tasks_json`` (a list, with predictions); how many the server took."""
    tasks = json.loads(tasks_json.read_text())
    out = api(server, "POST", f"/api/projects/{project}/import", tasks, timeout_s=600)
    n = int(out.get("task_count", -1))
    if n != len(tasks):
        raise RuntimeError(f"Label Studio imported {n} of the {len(tasks)} tasks of {tasks_json}: {out}")
    return n


def export_annotations(server: Server, project: int, out: Path) -> Path:
    """The project's annotated tasks as Label Studio JSON (what its Export button gives), for ``leod
    import-labels``. A task nobody annotated is left out, so its frame keeps the round's boxes."""
    tasks = api(server, "GET", f"/api/projects/{project}/export?exportType=JSON", timeout_s=600)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(tasks, indent=1) + "\n")
    tmp.replace(out)
    return out


def image_url_prefix(document_root: Path, export_dir: Path) -> str:
    """``--image-url-prefix`` of ``leod export-labels`` for an export served from ``document_root``."""
    rel = export_dir.resolve().relative_to(document_root.resolve()).as_posix()
    return f"{LOCAL_FILES_PREFIX}{rel}/"


def _leod() -> str:
    return str(Path(sys.executable).parent / "leod")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make label", description=__doc__.splitlines()[0])
    parser.add_argument("--round", type=int, required=True, dest="round_idx")
    parser.add_argument("--frames", default=None, help="frame list (leod suggest-frames); default: the whole round")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fresh", action="store_true", help="delete the round's project and export again")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("-S", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from flows.settings import load_config
    from leod_core.labelling.paths import EXPORT_DIR, labelling_dir

    cfg = load_config(args.params, args.overrides)
    k = args.round_idx
    root = (cfg.layout.artifacts / "labelling").resolve()  # the document root: every round's export below it
    export_dir = labelling_dir(cfg.layout, k).resolve() / EXPORT_DIR
    data_dir = root / DATA_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    title = f"leod round {k}"
    t0 = time.monotonic()
    try:
        server = start_server(data_dir, root, args.port)
    except RuntimeError as exc:
        print(f"make label: error: {exc}", file=sys.stderr)
        return 1
    try:
        ready_s = wait_ready(server)
        print(f"make label: Label Studio up in {ready_s:.1f} s (log: {server.log})")
        project = find_project(server, title)
        if project is not None and args.fresh:
            delete_project(server, project["id"])
            project = None
        if project is None:
            cmd = [_leod(), "export-labels", "--round", str(k), "--params", args.params,
                   *(a for o in args.overrides for a in ("-S", o)),
                   "--out", str(export_dir), "--image-url-prefix", image_url_prefix(root, export_dir)]
            if subprocess.run(cmd + (["--frames", args.frames] if args.frames else []), timeout=3600).returncode:
                raise RuntimeError("leod export-labels failed (its error is above)")
            pid = create_project(server, title, (export_dir / "label_studio_config.xml").read_text(),
                                 model_version=f"leod round {k}")
            add_local_storage(server, pid, export_dir)
            n = import_tasks(server, pid, export_dir / "label_studio.json")
            print(f"make label: project {title!r}: {n} tasks, the round's boxes as pre-annotations")
        else:
            pid = int(project["id"])
            print(f"make label: project {title!r} exists ({project.get('task_number', '?')} tasks, "
                  f"{project.get('num_tasks_with_annotations', '?')} annotated): opened as it is, "
                  f"{'FRAMES not exported; ' if args.frames else ''}make label FRESH=1 starts it over")
        returned = export_dir / RETURNED_FILE
        print(f"\n  Label Studio: {server.url}/projects/{pid}/data  (ready {time.monotonic() - t0:.0f} s after start)\n"
              f"  login: {server.login.email}  password: {server.login.password}  (kept in {data_dir / LOGIN_FILE})\n"
              f"  Ctrl-C exports the annotations to {returned} and stops the server; then:\n"
              f"    leod import-labels {returned} --round {k}\n", flush=True)
        try:
            while server.proc.poll() is None:
                time.sleep(1)
            print(f"make label: Label Studio exited ({server.proc.returncode}); {server.log}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            export_annotations(server, pid, returned)
            print(f"\nmake label: annotations -> {returned}")
            return 0
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"make label: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nmake label: interrupted")
        return 130
    finally:
        code = stop_server(server)
        print(f"make label: Label Studio stopped ({code})")


if __name__ == "__main__":
    sys.exit(main())
