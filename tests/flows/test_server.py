"""The UI servers' ports: a taken fixed port is one error line naming the setting, before anything starts."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from flows.cli import main
from flows.server import PortTaken, free_port, mlflow_server, mlflow_ui_available, require_free_port


@pytest.fixture
def taken_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


def test_require_free_port(taken_port: int):
    with pytest.raises(PortTaken, match=rf"port {taken_port} on 127.0.0.1 is taken \(MLflow UI\).*mlflow.port"):
        require_free_port(taken_port, "MLflow UI", "-S mlflow.port=N")
    port = free_port(0)
    assert require_free_port(port, "x", "y") == port


def test_serve_refuses_a_taken_prefect_port_in_one_line(taken_port: int, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture, tmp_path: Path):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / ".prefect"))
    repo = Path(__file__).resolve().parents[2]
    rc = main(["serve", "--repo", str(repo), "--no-mlflow", "-S", f"orchestration.prefect_port={taken_port}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err == [f"leod serve: error: port {taken_port} on 127.0.0.1 is taken (Prefect server): stop what uses "
                   "it, or choose another port with PREFECT_PORT or -S orchestration.prefect_port=N"]


@pytest.mark.skipif(not mlflow_ui_available(), reason="the ui extra (full mlflow) is not installed")
def test_mlflow_server_serves_the_store_and_stops(tmp_path: Path):
    port = free_port(0)
    with mlflow_server(port, f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path) as url:
        with urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/search?max_results=5", timeout=10) as r:
            assert b"Default" in r.read()
    assert free_port(port) == port


def test_flows_in_this_process_report_to_the_started_server(monkeypatch: pytest.MonkeyPatch):
    """Prefect reads its settings when imported (here: long before), so the server's URL must reach this
    process's settings too, not only the environment of child processes; otherwise a flow run here would
    start an ephemeral server of its own (which timed out on the busy 2-core machine)."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    from flows.server import prefect_server

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    before = get_current_settings().api.url

    @flow
    def tiny() -> int:
        return 3

    with prefect_server(0) as url:
        assert get_current_settings().api.url == url
        state = tiny(return_state=True)
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(state.state_details.flow_run_id).state.is_completed()
            assert str(client.api_url).rstrip("/") == url.rstrip("/")
    assert get_current_settings().api.url == before
