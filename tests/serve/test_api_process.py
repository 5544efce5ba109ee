"""`selfclone serve api` as a real process in a workspace: it starts the job worker, a job created with the official
SDK on a tiny model runs to `succeeded`, and its clone answers chat at once."""
import json
import subprocess
import sys
import time

import openai
import pytest


pytestmark = pytest.mark.slow
GOOD = "\n".join(json.dumps({"messages": [{"role": "user", "content": f"q {i}?"},
                                          {"role": "assistant", "content": f"a {i}."}]}) for i in range(8)) + "\n"


def test_serve_api_process_runs_a_job_and_serves_its_clone(ws, tiny_model_dir):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "selfclone", "serve", "api", "--port", str(port)],
                              cwd=ws.root, start_new_session=True)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        for _ in range(300):
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                time.sleep(0.2)
        upload = client.files.create(file=("me.jsonl", GOOD.encode()), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(training_file=upload.id, model=str(tiny_model_dir), suffix="ana",
                                             hyperparameters={"n_epochs": 1})
        for _ in range(600):
            job = client.fine_tuning.jobs.retrieve(job.id)
            if job.status in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.5)
        assert job.status == "succeeded", job.error
        reply = client.chat.completions.create(model=job.fine_tuned_model, max_tokens=3,
                                               messages=[{"role": "user", "content": "q 1?"}])
        assert reply.choices[0].message.content is not None
        assert any(e.type == "metrics" for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data)
    finally:
        import os
        import signal
        os.killpg(server.pid, signal.SIGINT)
        server.wait(60)
